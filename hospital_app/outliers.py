"""Unusual figures: a report far outside its hospital's recent history.

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
- Census (rules.census_gap): occupied beds differ from the day before's occupied beds +
  admissions − discharges − deaths by more than the tolerance. Only the report of the day
  before counts; in an import that may be an earlier row of the same file (flushed first).

The database does the aggregation: one query per batch of up to BATCH_ROWS reports returns,
for each report, the count, SUM(x) and SUM(x*x) of each figure over its history, and the
previous report's occupancy figures. SQLite has no STDDEV, so the variance is computed here
from those sums. Sums rather than averages: they are exact integers on all three databases
(MariaDB rounds AVG to four decimals, which would blur a variance near zero), so the
comparisons below are exact fractions, and the numbers in a message agree with the decision.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from typing import NamedTuple

from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased

from . import rules
from .extensions import db
from .models import Report

# Reports per query. SQLite allows at most 500 SELECTs in one UNION ALL; 400 leaves room
# and keeps the bound parameters (4 per report) far below every database's limit.
BATCH_ROWS = 400
# The census check's figures after yesterday's occupied beds, in rules.census_gap's order.
FLOW_ORDER = ("admissions", "discharges", "deaths")


class ReportRow(NamedTuple):
    """A report to check: its hospital, date and counts ({field: value}, as rules.COUNT_FIELDS;
    a missing value is not checked). `report_id` is the stored report being replaced, if any:
    it is left out of its own history."""

    hospital_id: int
    report_date: date
    counts: Mapping[str, int | None]
    report_id: int | None = None


class Unusual(str):
    """One warning: its message (what the importer lists and outlier_note stores, so it is a
    plain string to them), the report's fields it is about, and what to say beside each of
    those fields on the form."""

    fields: tuple[str, ...]
    beside: str

    def __new__(cls, message: str, fields: Sequence[str], beside: str) -> Unusual:
        warning = super().__new__(cls, message)
        warning.fields = tuple(fields)
        warning.beside = beside
        return warning


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
        k = rules.OUTLIER_SIGMAS
        # Floats settle all but a hair's breadth from the edge, quickly (an import checks
        # every figure of every row); that hair is settled exactly.
        mean = self.total / self.n
        variance = max(0.0, (self.n * self.squares - self.total**2) / self.n**2)
        floor = max(rules.OUTLIER_MIN_SPREAD, mean * rules.OUTLIER_MIN_SPREAD_PERCENT / 100)
        gap, reach = abs(value - mean), k * max(math.sqrt(variance), floor)
        if gap < reach * (1 - 1e-9):
            return True
        if gap > reach * (1 + 1e-9):
            return False
        exact_gap = abs(value - self.mean)
        return exact_gap <= k * self.floor or exact_gap**2 <= k**2 * self.variance

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


def _far_from_history(field: str, value: int, spread: _Spread) -> Unusual:
    low, high = spread.band()
    side = "above" if value > spread.mean else "below"
    return Unusual(
        f"{rules.label(field)} ({value:,}) is far from this hospital's last {spread.n} reports "
        f"(mean {_number(spread.mean)}, usually {low:,}–{high:,}).",
        [field],
        f"far {side} the last {spread.n} reports (usually {low:,}–{high:,})",
    )


def _rate(part: int | None, whole: int | None) -> Fraction | None:
    if part is None or not whole:
        return None
    return Fraction(100 * part, whole)


def _may_jump(part: int | None, whole: int | None, part_before, whole_before) -> bool:
    """Whether the rate may have moved more than OUTLIER_JUMP_POINTS: False only when it
    surely has not (the exact check with fractions is for the rest; an import asks this of
    every row). |p/w − p0/w0| · 100 > J, in whole numbers: |p·w0 − p0·w| · 100 > J · w · w0."""
    if part is None or not whole or part_before is None or not whole_before:
        return False  # _rate gives None: no jump
    gap = abs(part * int(whole_before) - int(part_before) * whole) * 100
    return gap > rules.OUTLIER_JUMP_POINTS * whole * int(whole_before)


def _jump(
    label: str, pair: tuple[str, str], before: Fraction, now: Fraction, previous_date: date
) -> Unusual:
    verb = "jumps" if now > before else "falls"
    moved = f"{verb} from {_number(before)} % to {_number(now)} %"
    since = f"since the report of {rules.day_text(previous_date)}"
    return Unusual(
        f"{label} {moved} ({_number(abs(now - before))} points) {since}.",
        # Either figure of the rate may be the one mistyped.
        pair,
        f"{label.lower()} {moved} {since}",
    )


def _warnings(row: ReportRow, found) -> list[Unusual]:
    """The warnings for one report, from its row of the history query (None: no history)."""
    if found is None:
        return []
    warnings = []
    n = found.n
    if n >= rules.OUTLIER_MIN_HISTORY:
        for field in rules.OUTLIER_FIELDS:
            value = row.counts.get(field)
            if value is None:
                continue
            spread = _Spread(
                n, int(found._mapping[f"{field}_sum"]), int(found._mapping[f"{field}_sq"])
            )
            if not spread.usual(value):
                warnings.append(_far_from_history(field, value, spread))
    for label, (part, whole) in rules.OCCUPANCY_RATES.items():
        if not _may_jump(
            row.counts.get(part),
            row.counts.get(whole),
            found._mapping[f"prev_{part}"],
            found._mapping[f"prev_{whole}"],
        ):
            continue
        now = _rate(row.counts.get(part), row.counts.get(whole))
        before = _rate(found._mapping[f"prev_{part}"], found._mapping[f"prev_{whole}"])
        if now is not None and before is not None and abs(now - before) > rules.OUTLIER_JUMP_POINTS:
            warnings.append(_jump(label, (part, whole), before, now, found.prev_date))
    census = _census(row, found)
    if census is not None:
        warnings.append(census)
    return warnings


CENSUS_FIELDS = ("beds_occupied", "admissions", "discharges", "deaths")


def _census(row: ReportRow, found) -> Unusual | None:
    """The census check (rules.census_gap): against the report of the day before only; a gap
    of several days has no yesterday to add up from."""
    if found.prev_date != row.report_date - timedelta(days=1):
        return None
    figures = [found._mapping["prev_beds_occupied"], *(row.counts.get(f) for f in FLOW_ORDER)]
    occupied = row.counts.get("beds_occupied")
    gap = rules.census_gap(*figures, occupied)
    if gap is None:
        return None
    message = rules.census_message(*figures, occupied)
    return Unusual(message, CENSUS_FIELDS, message[0].lower() + message[1:-1])


def _batch_table(size: int, arrays: bool):
    """The batch as a derived table (row_no, hospital_id, report_date, report_id)."""
    if arrays:
        # PostgreSQL: three arrays unnested, a statement the same for every batch. A UNION of
        # 400 SELECTs took it about 90 ms to plan, every batch, for 17 ms of work.
        rows = func.unnest(
            bindparam("h", type_=ARRAY(Integer)),
            bindparam("d", type_=ARRAY(Date)),
            bindparam("r", type_=ARRAY(Integer)),
        ).table_valued("hospital_id", "report_date", "report_id", with_ordinality="n")
        rows = rows.render_derived(name="batch_rows")
        return select(
            (rows.c.n - 1).label("row_no"),
            cast(rows.c.hospital_id, Integer).label("hospital_id"),
            cast(rows.c.report_date, Date).label("report_date"),
            cast(rows.c.report_id, Integer).label("report_id"),
        ).subquery("batch")
    # One SELECT of bound values per report.
    return union_all(
        *(
            select(
                literal_column(str(i), Integer).label("row_no"),
                cast(bindparam(f"h{i}", type_=Integer), Integer).label("hospital_id"),
                bindparam(f"d{i}", type_=Date).label("report_date"),
                cast(bindparam(f"r{i}", type_=Integer), Integer).label("report_id"),
            )
            for i in range(size)
        )
    ).subquery("batch")


@functools.lru_cache(maxsize=8)
def _history_query(size: int, arrays: bool = False):
    """One statement for a batch of `size` reports: for each (numbered by its position), its
    history's aggregates. Its values are bound parameters (_parameters), so the statement is
    built and compiled once per batch size (once, with `arrays`), not once per batch."""
    batch = _batch_table(size, arrays)
    table = Report.__table__
    earlier = aliased(table, name="earlier")

    def before_row(report_date):
        """The row's hospital's reports dated before it, other than the row's own report."""
        return select(report_date).where(
            earlier.c.hospital_id == batch.c.hospital_id,
            earlier.c.report_date < batch.c.report_date,
            earlier.c.id != batch.c.report_id,
        )

    # Two seeks per row in the (hospital_id, report_date) index: the date of the previous
    # report, and of the OUTLIER_HISTORY-th before it (None when there are fewer). The
    # history is then at most OUTLIER_HISTORY rows read, however long the hospital's past.
    limits = select(
        batch,
        before_row(func.max(earlier.c.report_date)).scalar_subquery().label("previous"),
        before_row(earlier.c.report_date)
        .order_by(earlier.c.report_date.desc())
        .offset(rules.OUTLIER_HISTORY - 1)
        .limit(1)
        .scalar_subquery()
        .label("oldest"),
    )
    # The LIMIT (never reached) keeps the databases from merging this into the join below,
    # which would run its two subqueries again for every history row.
    limits = limits.limit(size).subquery("limits")
    history = and_(
        table.c.hospital_id == limits.c.hospital_id,
        table.c.report_date < limits.c.report_date,
        table.c.id != limits.c.report_id,
        # A range on the index, not an OR: with fewer reports than that, from the first.
        table.c.report_date >= func.coalesce(limits.c.oldest, literal(date.min, Date)),
    )
    latest = table.c.report_date == limits.c.previous
    columns = [limits.c.row_no, func.count().label("n")]
    for field in rules.OUTLIER_FIELDS:
        # BIGINT: 100,000² does not fit PostgreSQL's 32-bit integer.
        x = cast(table.c[field], BigInteger)
        columns += [func.sum(x).label(f"{field}_sum"), func.sum(x * x).label(f"{field}_sq")]
    columns.append(func.max(limits.c.previous).label("prev_date"))
    for pair in rules.OCCUPANCY_RATES.values():
        for field in pair:
            columns.append(func.max(case((latest, table.c[field]))).label(f"prev_{field}"))
    return select(*columns).select_from(limits).join(table, history).group_by(limits.c.row_no)


def _parameters(rows: Sequence[ReportRow], arrays: bool = False) -> dict:
    if arrays:
        return {
            "h": [row.hospital_id for row in rows],
            "d": [row.report_date for row in rows],
            "r": [row.report_id or 0 for row in rows],
        }
    parameters = {}
    for i, row in enumerate(rows):
        parameters[f"h{i}"] = row.hospital_id
        parameters[f"d{i}"] = row.report_date
        parameters[f"r{i}"] = row.report_id or 0  # no report has id 0
    return parameters


def batch_warnings(rows: Sequence[ReportRow]) -> list[list[Unusual]]:
    """The warnings of many reports at once: one list of messages per row, in order (an empty
    list for a usual report).

    For the importer: call it once per batch of parsed, valid rows, before or after adding
    them to the session. It sends one SELECT per BATCH_ROWS rows, whatever the hospitals and
    dates, and changes nothing. Each row is compared with the reports the database holds
    (what this transaction has flushed included) dated before it, other than its own
    `report_id`; rows not yet flushed do not see one another. Warnings are not errors:
    import the row, report the messages, and mark it with outlier_note(warnings).
    """
    results: list[list[Unusual]] = []
    arrays = db.session.get_bind().dialect.name == "postgresql"
    for start in range(0, len(rows), BATCH_ROWS):
        chunk = rows[start : start + BATCH_ROWS]
        size = BATCH_ROWS if arrays else len(chunk)  # with arrays, one statement for all
        query, parameters = _history_query(size, arrays), _parameters(chunk, arrays)
        found = {r.row_no: r for r in db.session.execute(query, parameters)}
        results += [_warnings(row, found.get(i)) for i, row in enumerate(chunk)]
    return results


def report_warnings(
    hospital_id: int,
    report_date: date,
    counts: Mapping[str, int | None],
    report_id: int | None = None,
) -> list[Unusual]:
    """The warnings of one report (the form's): one SELECT."""
    return batch_warnings([ReportRow(hospital_id, report_date, counts, report_id)])[0]


def outlier_note(warnings: Sequence[str]) -> str | None:
    """What is stored in outlier_note for a confirmed report: the warnings, within the
    column's length; None when there are none."""
    note = " ".join(warnings)
    if len(note) > rules.OUTLIER_NOTE_MAX:
        note = note[: rules.OUTLIER_NOTE_MAX - 1].rstrip() + "…"
    return note or None


# --- Capacity copied unchanged: still correct? ------------------------------------------------


def capacity_warning(
    hospital_id: int,
    report_date: date,
    counts: Mapping[str, int | None],
    report_id: int | None = None,
) -> Unusual | None:
    """The report form's question when the capacity (rules.CAPACITY_FIELDS) is the same as on
    every report of the last rules.CAPACITY_UNCHANGED_DAYS days or more: a new report starts
    with it filled in, so a capacity nobody looks at again goes stale. Asked once per that
    many days: not when a report of that span confirmed it already (its note says so)."""
    values = [counts.get(field) for field in rules.CAPACITY_FIELDS]
    if any(value is None for value in values):
        return None
    earlier = (
        Report.hospital_id == hospital_id,
        Report.report_date < report_date,
        Report.id != (report_id or 0),
    )
    same = and_(
        *(Report.__table__.c[f] == v for f, v in zip(rules.CAPACITY_FIELDS, values, strict=True))
    )
    # One query (the form's other checks are one too): the last day the capacity differed,
    # the first report since then, and whether a report of the last days confirmed it.
    changed = select(func.max(Report.report_date)).where(*earlier, ~same).scalar_subquery()
    since = (
        select(func.min(Report.report_date))
        .where(*earlier, Report.report_date > func.coalesce(changed, literal(date.min, Date)))
        .scalar_subquery()
    )
    window = report_date - timedelta(days=rules.CAPACITY_UNCHANGED_DAYS)
    asked = (
        select(func.count())
        .select_from(Report)
        .where(
            *earlier,
            Report.report_date >= window,
            Report.outlier_note.contains(rules.CAPACITY_QUESTION, autoescape=True),
        )
        .scalar_subquery()
    )
    found = db.session.execute(select(since.label("since"), asked.label("asked"))).one()
    if found.since is None or found.asked:
        return None
    since_day = found.since
    if (report_date - since_day).days < rules.CAPACITY_UNCHANGED_DAYS:
        return None
    figures = ", ".join(
        f"{rules.label(f)[0].lower()}{rules.label(f)[1:]} {v:,}"
        for f, v in zip(rules.CAPACITY_FIELDS, values, strict=True)
    )
    days = (report_date - since_day).days
    since_text = rules.day_text(since_day)
    message = f"Capacity unchanged since {since_text} ({days} days): {figures}. " + (
        rules.CAPACITY_QUESTION
    )
    return Unusual(message, rules.CAPACITY_FIELDS, f"unchanged since {since_text}")
