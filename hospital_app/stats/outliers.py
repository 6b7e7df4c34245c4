"""Unusual figures: a report far outside its hospital's recent history (issue 5).

Such a report is not refused. The form asks the person to confirm it, a confirmed report is
marked (outlier_confirmed, outlier_note) for follow-up, and the importer reports the same
warnings without stopping. Two rules, with their thresholds in rules.py:

- Far from history: each figure of rules.OUTLIER_FIELDS is compared with the hospital's last
  OUTLIER_HISTORY reports before the report's date (at least OUTLIER_MIN_HISTORY of them);
  it is unusual when it lies more than OUTLIER_SIGMAS spreads from their mean. The spread is
  the population standard deviation, but never less than a floor (see _Spread).
- Occupancy jump: bed or ICU occupancy moves by more than OUTLIER_JUMP_POINTS percentage
  points from the previous report (the latest before the report's date). One previous report
  is enough.

The database does the aggregation: one query per batch of up to BATCH_ROWS reports returns,
for each report, the count, SUM(x) and SUM(x*x) of each figure over its history, and the
previous report's occupancy figures. SQLite has no STDDEV, so the variance is computed here
from those sums. Sums rather than averages: they are exact integers on all three databases
(MariaDB rounds AVG to four decimals, which would blur a variance near zero), so the
comparisons below are exact fractions, and the numbers in a message agree with the decision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import NamedTuple

from sqlalchemy import BigInteger, Date, Integer, and_, case, cast, func, literal, select, union_all

from .. import rules
from ..extensions import db
from ..models import HospitalStats

# Reports per query. SQLite allows at most 500 SELECTs in one UNION ALL; 400 leaves room
# and keeps the bound parameters (4 per report) far below every database's limit.
BATCH_ROWS = 400


class ReportRow(NamedTuple):
    """A report to check: its hospital, date and counts ({field: value}, as rules.COUNT_FIELDS;
    a missing value is not checked). `report_id` is the stored report being replaced, if any:
    it is left out of its own history."""

    hospital_id: int
    report_date: date
    counts: Mapping[str, int | None]
    report_id: int | None = None


@dataclass(frozen=True)
class _Spread:
    """What the history of one figure says: n reports, their sum and sum of squares."""

    n: int
    total: int
    squares: int

    @property
    def mean(self) -> Fraction:
        return Fraction(self.total, self.n)

    @property
    def variance(self) -> Fraction:
        # Population variance avg(x²) − avg(x)², exact: (n·Σx² − (Σx)²) / n².
        return Fraction(self.n * self.squares - self.total**2, self.n**2)

    @property
    def floor(self) -> Fraction:
        # A history that hardly moves (σ near 0) would make any change a warning: 10, 10, 10…
        # then 11 is infinitely many σ away. Counts are whole numbers and vary naturally, so
        # the spread is at least 1 (a constant 10 accepts 7–13: 11 passes, 40 warns) and at
        # least 10 % of the mean (a constant 150 accepts 105–195), i.e. ±30 % at 3 spreads.
        share = self.mean * rules.OUTLIER_MIN_SPREAD_PERCENT / 100
        return max(Fraction(rules.OUTLIER_MIN_SPREAD), share)

    def usual(self, value: int) -> bool:
        """|value − mean| ≤ k · max(σ, floor), decided without rounding."""
        gap = abs(value - self.mean)
        k = rules.OUTLIER_SIGMAS
        return gap <= k * self.floor or gap**2 <= k**2 * self.variance

    def band(self) -> tuple[int, int]:
        """The whole numbers this history accepts, lowest and highest: exactly those for which
        usual() holds, so the message's range agrees with the warning."""
        reach = rules.OUTLIER_SIGMAS * max(math.sqrt(self.variance), float(self.floor))
        low = max(0, math.ceil(self.mean - reach))
        high = math.floor(self.mean + reach)
        # The float estimate may be one off at the edges; settle it exactly.
        while low > 0 and self.usual(low - 1):
            low -= 1
        while not self.usual(low):
            low += 1
        while self.usual(high + 1):
            high += 1
        while not self.usual(high):
            high -= 1
        return low, high


def _number(value: Fraction | float) -> str:
    return f"{float(value):,.1f}"


def _far_from_history(label: str, value: int, spread: _Spread) -> str:
    low, high = spread.band()
    return (
        f"{label} ({value:,}) is far from this hospital's last {spread.n} reports "
        f"(mean {_number(spread.mean)}, usually {low:,}–{high:,})."
    )


def _rate(part: int | None, whole: int | None) -> Fraction | None:
    if part is None or not whole:
        return None
    return Fraction(100 * part, whole)


def _jump(label: str, before: Fraction, now: Fraction, previous_date: date) -> str:
    verb = "jumps" if now > before else "falls"
    return (
        f"{label} {verb} from {_number(before)} % to {_number(now)} % "
        f"({_number(abs(now - before))} points) since the report of {previous_date.isoformat()}."
    )


def _warnings(row: ReportRow, found) -> list[str]:
    """The warnings for one report, from its row of the history query (None: no history)."""
    if found is None:
        return []
    warnings = []
    n = found.n
    if n >= rules.OUTLIER_MIN_HISTORY:
        for field, label in rules.OUTLIER_FIELDS.items():
            value = row.counts.get(field)
            if value is None:
                continue
            spread = _Spread(
                n, int(found._mapping[f"{field}_sum"]), int(found._mapping[f"{field}_sq"])
            )
            if not spread.usual(value):
                warnings.append(_far_from_history(label, value, spread))
    for label, (part, whole) in rules.OCCUPANCY_RATES.items():
        now = _rate(row.counts.get(part), row.counts.get(whole))
        before = _rate(found._mapping[f"prev_{part}"], found._mapping[f"prev_{whole}"])
        if now is not None and before is not None and abs(now - before) > rules.OUTLIER_JUMP_POINTS:
            warnings.append(_jump(label, before, now, found.prev_date))
    return warnings


def _history_query(rows: Sequence[ReportRow]):
    """One statement: for each row (numbered by its position), its history's aggregates."""
    # The batch as a derived table: one SELECT of bound values per report.
    batch = union_all(
        *(
            select(
                cast(literal(i), Integer).label("row_no"),
                cast(literal(row.hospital_id), Integer).label("hospital_id"),
                literal(row.report_date, Date).label("report_date"),
                cast(literal(row.report_id or 0), Integer).label("report_id"),
            )
            for i, row in enumerate(rows)
        )
    ).subquery("batch")
    stats = HospitalStats.__table__
    wanted = {*rules.OUTLIER_FIELDS, *(f for pair in rules.OCCUPANCY_RATES.values() for f in pair)}
    # Each report's earlier reports, newest first, numbered 1, 2, … (through the
    # (hospital_id, report_date) unique index).
    ranked = (
        select(
            batch.c.row_no,
            stats.c.report_date,
            *(stats.c[f] for f in sorted(wanted)),
            func.row_number()
            .over(partition_by=batch.c.row_no, order_by=stats.c.report_date.desc())
            .label("rn"),
        )
        .select_from(batch)
        .join(
            stats,
            and_(
                stats.c.hospital_id == batch.c.hospital_id,
                stats.c.report_date < batch.c.report_date,
                stats.c.id != batch.c.report_id,
            ),
        )
        .subquery("ranked")
    )
    latest = ranked.c.rn == 1
    columns = [ranked.c.row_no, func.count().label("n")]
    for field in rules.OUTLIER_FIELDS:
        # BIGINT: 100,000² does not fit PostgreSQL's 32-bit integer.
        x = cast(ranked.c[field], BigInteger)
        columns += [func.sum(x).label(f"{field}_sum"), func.sum(x * x).label(f"{field}_sq")]
    columns.append(func.max(case((latest, ranked.c.report_date))).label("prev_date"))
    for pair in rules.OCCUPANCY_RATES.values():
        for field in pair:
            columns.append(func.max(case((latest, ranked.c[field]))).label(f"prev_{field}"))
    return select(*columns).where(ranked.c.rn <= rules.OUTLIER_HISTORY).group_by(ranked.c.row_no)


def batch_warnings(rows: Sequence[ReportRow]) -> list[list[str]]:
    """The warnings of many reports at once: one list of messages per row, in order (an empty
    list for a usual report).

    For the importer: call it once per batch of parsed, valid rows, before or after adding
    them to the session. It sends one SELECT per BATCH_ROWS rows, whatever the hospitals and
    dates, and changes nothing. Each row is compared with the reports the database holds
    (what this transaction has flushed included) dated before it, other than its own
    `report_id`; rows not yet flushed do not see one another. Warnings are not errors:
    import the row, report the messages, and mark it with outlier_note(warnings).
    """
    results: list[list[str]] = []
    for start in range(0, len(rows), BATCH_ROWS):
        chunk = rows[start : start + BATCH_ROWS]
        found = {r.row_no: r for r in db.session.execute(_history_query(chunk))}
        results += [_warnings(row, found.get(i)) for i, row in enumerate(chunk)]
    return results


def report_warnings(
    hospital_id: int,
    report_date: date,
    counts: Mapping[str, int | None],
    report_id: int | None = None,
) -> list[str]:
    """The warnings of one report (the form's): one SELECT."""
    return batch_warnings([ReportRow(hospital_id, report_date, counts, report_id)])[0]


def outlier_note(warnings: Sequence[str]) -> str | None:
    """What is stored in outlier_note for a confirmed report: the warnings, within the
    column's length; None when there are none."""
    note = " ".join(warnings)
    if len(note) > rules.OUTLIER_NOTE_MAX:
        note = note[: rules.OUTLIER_NOTE_MAX - 1].rstrip() + "…"
    return note or None
