"""Timeliness: which hospital-days were due, reported on time, late, or missing; written once
here for the /timeliness page, its CSV export and the calendar on each hospital's page.

The definitions (also on the page and in the README):
- **Start.** A hospital owes reports from its start day: the earlier of the date of its first
  report and the day it was registered (its created_at, in the hospitals' time zone). A
  hospital registered with a history of older reports starts at the oldest; one registered
  before it ever reported owes reports from its registration.
- **Due.** A day from the start on whose deadline (cycle.is_due, by today's settings) has
  passed. Reports of days not yet due are not counted until their deadline passes.
- **Archived.** An archived hospital owes nothing: it has no archive date, so none of its days
  without a report is due, over the whole range. The days it did report still count, as due
  and reported (on time or late), so its figures never show more reports than days due.
- **Reported** = due days with a report; **on time** = those with Report.on_time (decided
  when the report was first saved, cycle.py); **late** = reported - on time; **missing** =
  due - reported.
- **Rates**: on-time rate = on time / due, completeness = reported / due; none (—) when
  nothing was due. Regions and the network add up their hospitals' counts, then divide.

Queries: one for every hospital's row whatever the range (the database counts each hospital's
reports in the range and finds its first report; Python counts the days due, which needs no
reading of rows), so the page's number of queries does not grow with hospitals or days.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter

from sqlalchemy import func, literal, select

from .. import cycle, rules
from ..charts import ratio
from ..extensions import db
from ..models import Hospital, HospitalWeek, Report

# The longest range the page adds up: a year, leap day included.
MAX_DAYS = 366
WEEKS_BY_DEFAULT = 4


def default_range(today: date) -> tuple[date, date]:
    """The last WEEKS_BY_DEFAULT complete weeks: Monday-to-Sunday weeks before the current one
    (which is not over yet)."""
    end = today - timedelta(days=today.weekday() + 1)  # last Sunday
    return end - timedelta(days=7 * WEEKS_BY_DEFAULT - 1), end


def local_zone():
    """The hospitals' time zone (config TIMEZONE), else the server's."""
    return rules.zone() or datetime.now().astimezone().tzinfo


def start_day(first_report: date | None, created_at: datetime, zone) -> date:
    """The first day a hospital owes a report (module doc, "Start"); `zone` is local_zone(),
    read once for a whole list."""
    if first_report is not None and first_report < created_at.date() - timedelta(days=1):
        return first_report  # earlier than its registration whatever the time zone
    registered = created_at.replace(tzinfo=UTC).astimezone(zone).date()
    return registered if first_report is None else min(first_report, registered)


def last_due_day(through: date, settings, now: datetime | None = None) -> date:
    """The latest day up to `through` whose deadline has passed: the deadline grows with the
    day, so it is at most a couple of days back from today."""
    now = now or cycle.clock()
    day = min(through, cycle.local_today() + timedelta(days=1))
    while not cycle.is_due(day, settings, now):
        day -= timedelta(days=1)
    return day


# Slots and no freezing: a page makes a thousand of each, and a frozen dataclass pays for
# every field it sets.
@dataclass(slots=True)
class Figures:
    """Counts of hospital-days: one hospital's, or a region's or the network's sums."""

    due: int
    reported: int
    on_time: int

    @property
    def late(self) -> int:
        return self.reported - self.on_time

    @property
    def missing(self) -> int:
        return self.due - self.reported

    @property
    def on_time_rate(self) -> float | None:
        return ratio(self.on_time, self.due)

    @property
    def completeness(self) -> float | None:
        return ratio(self.reported, self.due)

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.due + other.due, self.reported + other.reported, self.on_time + other.on_time
        )


@dataclass(slots=True)
class Row:
    """One hospital's line of the page."""

    id: int
    code: str
    name: str
    region: str
    is_active: bool
    start: date
    figures: Figures


def _days(first: date, last: date) -> int:
    return max((last - first).days + 1, 0)


def _weeks_and_edges(date_from: date, last: date):
    """[date_from, last] as its whole Monday-to-Sunday weeks (their Mondays, first and last;
    None when there are none) and the days left at either end."""
    monday = date_from + timedelta(days=-date_from.weekday() % 7)
    sunday = last - timedelta(days=(last.weekday() + 1) % 7)
    if sunday < monday:
        return None, [(date_from, last)]
    edges = [(date_from, monday - timedelta(days=1)), (sunday + timedelta(days=1), last)]
    return (monday, sunday - timedelta(days=6)), [(a, b) for a, b in edges if a <= b]


def _counts(date_from: date, last: date, region: str | None):
    """Each hospital's reports of [date_from, last] and how many were on time, as two columns,
    and the subquery to outer-join for them (None: none needed). Whole weeks from
    hospital_weeks (summary.py), a row per week; the days at either end (at most 6 each) from
    ix_hospital_stats_timeliness (hospital_id, report_date, on_time), never a report's row."""
    weeks, edges = _weeks_and_edges(date_from, last)

    def counted(*where):
        return [
            select(func.count())
            .where(Report.hospital_id == Hospital.id, Report.report_date.between(a, b), *where)
            .scalar_subquery()
            for a, b in edges
        ]

    def summed(name):
        if weeks is None:
            return []
        return [
            select(func.coalesce(func.sum(getattr(HospitalWeek, name)), 0))
            .where(
                HospitalWeek.hospital_id == Hospital.id,
                HospitalWeek.week.between(*weeks),
            )
            .scalar_subquery()
        ]

    def total(parts):
        return functools.reduce(operator.add, parts) if parts else literal(0)

    reported = total(counted() + summed("reports"))
    return reported, total(counted(Report.on_time.is_(True)) + summed("on_time")), None


def hospital_rows(date_from: date, date_to: date, region: str | None = None) -> list[Row]:
    """Every hospital (of `region`) with its figures for [date_from, date_to]: one query."""
    settings = cycle.settings()
    last = min(date_to, last_due_day(date_to, settings))
    reported, on_time, counted = _counts(date_from, last, region)
    # Per hospital, through the (hospital_id, report_date) unique index: a look-up, not a scan.
    first_report = (
        select(func.min(Report.report_date))
        .where(Report.hospital_id == Hospital.id)
        .scalar_subquery()
    )
    stmt = select(
        Hospital.id,
        Hospital.code,
        Hospital.name,
        Hospital.region,
        Hospital.is_active,
        Hospital.created_at,
        first_report,
        reported,
        on_time,
    ).order_by(Hospital.name, Hospital.id)
    if counted is not None:
        stmt = stmt.outerjoin(counted, counted.c.hospital_id == Hospital.id)
    if region:
        stmt = stmt.where(Hospital.region == region)
    rows, zone = [], local_zone()
    # The connection's rows, not the session's: plain columns, nothing for the ORM to build.
    for (
        id_,
        code,
        name,
        region_,
        active,
        created_at,
        first,
        reported,
        on_time,
    ) in db.session.connection().execute(stmt):
        reported, on_time = int(reported), int(on_time)
        start = start_day(first, created_at, zone)
        due = _days(max(date_from, start), last) if active else reported
        rows.append(Row(id_, code, name, region_, active, start, Figures(due, reported, on_time)))
    return rows


def by_region(rows: list[Row]) -> list[tuple[str, Figures]]:
    """The regions' sums of their hospitals' figures, by region name."""
    sums: dict[str, list[int]] = {}
    for row in rows:
        figures = row.figures
        counts = sums.get(row.region)
        if counts is None:
            sums[row.region] = [figures.due, figures.reported, figures.on_time]
        else:
            counts[0] += figures.due
            counts[1] += figures.reported
            counts[2] += figures.on_time
    return sorted((region, Figures(*counts)) for region, counts in sums.items())


def total(rows: list[Row]) -> Figures:
    return Figures(
        sum(r.figures.due for r in rows),
        sum(r.figures.reported for r in rows),
        sum(r.figures.on_time for r in rows),
    )


# Sorting: by any column, both ways; rows without a rate (nothing due) last either way.
SORT_KEYS = {
    "name": ("Hospital", lambda r: (r.name.lower(), r.id)),
    "code": ("Code", lambda r: r.code),
    "region": ("Region", lambda r: (r.region.lower(), r.name.lower(), r.id)),
    "due": ("Days due", lambda r: r.figures.due),
    "reported": ("Reported", lambda r: r.figures.reported),
    "on_time": ("On time", lambda r: r.figures.on_time),
    "late": ("Late", lambda r: r.figures.late),
    "missing": ("Missing", lambda r: r.figures.missing),
    "on_time_rate": ("On-time rate", lambda r: r.figures.on_time_rate),
    "completeness": ("Completeness", lambda r: r.figures.completeness),
}


def sorted_rows(rows: list[Row], key: str, descending: bool) -> list[Row]:
    value = SORT_KEYS[key][1]
    # Ties in name order, whichever way the column goes (a stable sort keeps the query's).
    keyed = [(value(r), r) for r in rows]  # each row's key worked out once
    known = [pair for pair in keyed if pair[0] is not None]
    unknown = [r for k, r in keyed if k is None]
    known.sort(key=itemgetter(0), reverse=descending)
    return [r for _k, r in known] + unknown


# --- One hospital's calendar -----------------------------------------------------------------

CALENDAR_WEEKS = 13

# state: (symbol, words). Told apart by colour (app.css) and by the symbol and the words.
STATES = {
    "on-time": ("✓", "on time"),
    "late": ("!", "late"),
    "missing": ("✗", "missing"),
    "not-due": ("–", "not due"),
}


@dataclass(frozen=True)
class Day:
    day: date
    state: str  # a key of STATES
    why: str = ""  # for a day not due: why (archived, not yet due, before its start)

    @property
    def symbol(self) -> str:
        return STATES[self.state][0]

    @property
    def words(self) -> str:
        words = STATES[self.state][1]
        return f"{words} ({self.why})" if self.why else words


def day_state(
    day: date, report_on_time: bool | None, start: date, active: bool, settings, now: datetime
) -> Day:
    """What a hospital's `day` was: `report_on_time` is its report's on_time, None without
    a report. A report shows as on time or late even before its deadline has passed."""
    if report_on_time is not None:
        return Day(day, "on-time" if report_on_time else "late")
    if not active:
        return Day(day, "not-due", "archived")
    if day < start:
        return Day(day, "not-due", "before it started reporting")
    if not cycle.is_due(day, settings, now):
        return Day(day, "not-due", "deadline not passed yet")
    return Day(day, "missing")


def calendar(hospital: Hospital, today: date | None = None) -> list[list[Day]]:
    """The hospital's last CALENDAR_WEEKS weeks, Monday to Sunday, the current week last: one
    query (its reports of those weeks, and its first report wherever it is)."""
    today = today or cycle.local_today()
    first_day = today - timedelta(days=today.weekday() + 7 * (CALENDAR_WEEKS - 1))
    oldest = (
        select(func.min(Report.report_date))
        .where(Report.hospital_id == hospital.id)
        .scalar_subquery()
    )
    stmt = select(Report.report_date, Report.on_time).where(
        Report.hospital_id == hospital.id,
        # The first report comes along when it is older than the calendar: it sets the start.
        (Report.report_date >= first_day) | (Report.report_date == oldest),
    )
    found = dict(db.session.execute(stmt).all())
    start = start_day(min(found, default=None), hospital.created_at, local_zone())
    settings, now = cycle.settings(), cycle.clock()
    days = [first_day + timedelta(days=n) for n in range(7 * CALENDAR_WEEKS)]
    cells = [day_state(d, found.get(d), start, hospital.is_active, settings, now) for d in days]
    return [cells[i : i + 7] for i in range(0, len(cells), 7)]
