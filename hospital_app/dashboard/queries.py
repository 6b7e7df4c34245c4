"""What the dashboard shows, each part one aggregate query: the database adds up the reports,
Python only divides the sums it gets back and lays days out for the charts.

What the figures cover: the reports dated the chosen day from hospitals that are active now.
Archived hospitals are left out everywhere on the dashboard (their reports are counted apart,
so the page can say how many were left out); hospitals that did not report are not
estimated. Percentages are sums divided by sums (all occupied beds over all beds), never
averages of the hospitals' own percentages.

On time: of the active hospitals, those whose report of the day was saved by its deadline
(Report.on_time, cycle.py); until the deadline has passed the page says when it is instead.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import and_, bindparam, case, exists, func, or_, select
from sqlalchemy.orm import contains_eager

from .. import cycle, rules
from ..charts import Chart, Series, days_ending, occupancy_chart, ratio
from ..extensions import db
from ..models import AuditEntry, Hospital, RegionDay, Report

ACTIVE = Hospital.is_active.is_(True)
# Summed over the network and the regions: the census (the day's flows are not shown).
SUMMED = rules.CENSUS_FIELDS
OUTLIER_DAYS = 30  # confirmed outliers: the chosen day and the 30 days before


@dataclass(frozen=True)
class Totals:
    """The sums of one day's reports, for the network or one region."""

    hospitals: int  # active hospitals
    reported: int  # of them, those with a report that day
    on_time: int  # of those reports, the ones saved by the day's deadline (cycle.py)
    signed_off: int  # of those reports, the ones a reviewer signed off (review/)
    beds_total: int
    beds_occupied: int
    icu_beds_total: int
    icu_beds_occupied: int
    ventilators_total: int
    ventilators_in_use: int
    region: str | None = None

    @classmethod
    def from_row(cls, row, region: str | None = None) -> Totals:
        # MariaDB returns SUM() as a Decimal: whole numbers here, so int() is exact.
        hospitals, reported, on_time, signed_off, *sums = (int(v or 0) for v in row)
        return cls(hospitals, reported, on_time, signed_off, *sums, region=region)

    @property
    def provisional(self) -> int:
        """Reports not signed off (yet, or again after being reopened)."""
        return self.reported - self.signed_off

    @property
    def missing(self) -> int:
        return self.hospitals - self.reported

    @property
    def completeness(self) -> float | None:
        return ratio(self.reported, self.hospitals)

    @property
    def on_time_share(self) -> float | None:
        """Of the active hospitals, those that reported by the deadline."""
        return ratio(self.on_time, self.hospitals)

    @property
    def occupancy(self) -> float | None:
        return ratio(self.beds_occupied, self.beds_total)

    @property
    def icu_occupancy(self) -> float | None:
        return ratio(self.icu_beds_occupied, self.icu_beds_total)


def day_totals(day: date) -> tuple[Totals, list[Totals], int]:
    """The network's and each region's totals of `day` (the regions that have active
    hospitals, by name), and how many reports of `day` archived hospitals have: the active
    hospitals counted per region, beside the region's daily sums (summary.py). Two small
    queries whatever the number of reports; the network's totals are the sum of its regions'."""
    hospitals = (
        select(Hospital.region, func.count().label("hospitals"))
        .where(ACTIVE)
        .group_by(Hospital.region)
        .subquery()
    )
    # Joined on the region by the database, so regions compare as the database compares
    # them (MariaDB: without regard to case, as its GROUP BY above does).
    stmt = (
        select(
            hospitals.c.region,
            hospitals.c.hospitals,
            *(func.coalesce(getattr(RegionDay, name), 0) for name in _TOTALLED),
        )
        .outerjoin(
            RegionDay,
            and_(
                RegionDay.region == hospitals.c.region,
                RegionDay.report_date == day,
                RegionDay.active.is_(True),
            ),
        )
        .order_by(hospitals.c.region)
    )
    regions = [Totals.from_row(row[1:], region=row[0]) for row in db.session.execute(stmt)]
    network = Totals.from_row([sum(getattr(t, name) for t in regions) for name in _TOTALS_FIELDS])
    archived = db.session.scalar(
        select(func.coalesce(func.sum(RegionDay.reports), 0)).where(
            RegionDay.report_date == day, RegionDay.active.is_(False)
        )
    )
    return network, regions, int(archived)


# The daily sums a day's totals show, in the order of Totals' fields after `hospitals`.
_TOTALLED = ("reports", "on_time", "signed_off", *SUMMED)
_TOTALS_FIELDS = ("hospitals", "reported", "on_time", "signed_off", *SUMMED)


def deadline_ahead(day: date) -> str | None:
    """When `day`'s reports are due, as people read it ("12:00 on 29 Nov 2026", hospitals'
    time zone), while that is still ahead; None once it has passed and the on-time share
    means something."""
    settings = cycle.settings()
    if cycle.is_due(day, settings):
        return None
    due = cycle.deadline(day, settings)
    return f"{due:%H:%M} on {rules.day_text(due.date())}"


def missing_hospitals(day: date, first_ids: Collection[int] = ()):
    """Active hospitals without a report of `day`, by name; `first_ids` (an editor's own
    hospitals) ahead of the others, so the ones they can enter are on the first page."""
    reported = exists().where(Report.hospital_id == Hospital.id, Report.report_date == day)
    order = [Hospital.name, Hospital.id]
    if first_ids:
        order.insert(0, case((Hospital.id.in_(sorted(first_ids)), 0), else_=1))
    return select(Hospital).where(ACTIVE, ~reported).order_by(*order)


def _at_least(part, whole, tenths: int):
    # In whole numbers (tenths of a percent), so 90.0 % is exactly at a 90 % threshold on
    # every database, with no rounding of a division.
    return and_(whole > 0, part * 1000 >= whole * tenths)


def under_pressure(day: date, tenths: int):
    """Reports of `day` (active hospitals) with bed or ICU occupancy at or above the threshold
    (in tenths of a percent), the fullest first."""
    beds = Report.beds_occupied * 1.0 / func.nullif(Report.beds_total, 0)
    icu = Report.icu_beds_occupied * 1.0 / func.nullif(Report.icu_beds_total, 0)
    # The higher of the two; a NULL (no ICU beds) compares false and leaves the bed figure.
    peak = case((icu > beds, icu), else_=beds)
    return (
        select(Report)
        .join(Report.hospital)
        .options(contains_eager(Report.hospital))
        .where(
            Report.report_date == day,
            ACTIVE,
            or_(
                _at_least(Report.beds_occupied, Report.beds_total, tenths),
                _at_least(Report.icu_beds_occupied, Report.icu_beds_total, tenths),
            ),
        )
        .order_by(peak.desc(), Hospital.name, Hospital.id)
    )


def confirmed_outliers(day: date):
    """Reports confirmed as correct although unusual, of `day` and the OUTLIER_DAYS before
    (active hospitals), newest first."""
    return (
        select(Report)
        .join(Report.hospital)
        .options(contains_eager(Report.hospital))
        .where(
            Report.outlier_confirmed.is_(True),
            Report.report_date.between(day - timedelta(days=OUTLIER_DAYS), day),
            ACTIVE,
        )
        .order_by(Report.report_date.desc(), Hospital.name, Hospital.id)
    )


def confirmed_by(reports: Collection[Report]) -> dict[int, str]:
    """Who confirmed each of `reports`' unusual figures, by report id: the actor of the newest
    audit entry that saved the report with outlier_confirmed turning true (the form's box,
    or an import, which confirms by importing). One query for the whole list. A report whose
    trail does not say (rows written around the session) is left out. Sent for an empty
    list too, so the page's queries are as many whatever the data."""
    entries = db.session.execute(
        select(AuditEntry.record_id, AuditEntry.actor, AuditEntry.changes)
        .where(
            AuditEntry.record_type == "report",
            AuditEntry.record_id.in_(sorted(r.id for r in reports)),
        )
        # By record first, so the (record_type, record_id, id) index serves it: ordered by id
        # alone, SQLite walks every report entry of the trail (110 ms with 300,000).
        .order_by(AuditEntry.record_id, AuditEntry.id.desc())
    )
    found: dict[int, str] = {}
    # The changes are JSON kept as text (models.JSONText): read here, not filtered in SQL.
    for report_id, actor, changes in entries:
        old, new = (changes or {}).get("outlier_confirmed") or (None, None)
        if report_id not in found and new is True and old is not True:
            found[report_id] = actor
    return found


def first(stmt, limit: int) -> tuple[list, int]:
    """The first `limit` rows of an entity query and how many there are in all, in one query
    (COUNT(*) OVER (), which SQLite, PostgreSQL and MariaDB all have)."""
    rows = db.session.execute(stmt.add_columns(func.count().over()).limit(limit)).all()
    return [row[0] for row in rows], (rows[0][1] if rows else 0)


# --- Trends ----------------------------------------------------------------------------------


_TREND = (
    select(
        RegionDay.region,
        RegionDay.report_date,
        RegionDay.reports,
        RegionDay.beds_occupied,
        RegionDay.beds_total,
        RegionDay.icu_beds_occupied,
        RegionDay.icu_beds_total,
    )
    .where(
        RegionDay.active.is_(True),
        RegionDay.reports > 0,  # a row whose reports were all deleted since
        RegionDay.report_date.between(bindparam("first"), bindparam("last")),
    )
    .order_by(RegionDay.report_date, RegionDay.region)
)


# How much of the daily sums a period holds, and how often they were written: when neither
# moved, nothing in the period changed (RegionDay.changes only grows), and the charts drawn
# from it last time are the charts it would draw now.
_TREND_STATE = select(func.count(), func.coalesce(func.sum(RegionDay.changes), 0)).where(
    RegionDay.report_date.between(bindparam("first"), bindparam("last"))
)
TRENDS_KEPT = 16  # periods each worker keeps drawn (a day's three, and a few past days)


def trends(end: date, days: int) -> tuple[Chart, Chart, Chart]:
    """trends_drawn(), or the same charts drawn for an earlier request when nothing in the
    period changed since: drawing a year of eight regions (6,000 points and 365 table rows a
    chart) costs several times reading it. Each worker keeps its own (the app's extensions),
    checked against the database on every request, so workers and servers never disagree
    with the data; a worker that restarts draws again."""
    first = end - timedelta(days=days - 1)
    count, changes = db.session.execute(_TREND_STATE, {"first": first, "last": end}).one()
    key = (end, days, int(count), int(changes))
    kept = current_app.extensions.setdefault("hospital_registry.trends", OrderedDict())
    with _KEEPING:  # a threaded worker's requests share it
        charts = kept.get(key)
        if charts is not None:
            kept.move_to_end(key)
            return charts
    charts = trends_drawn(end, days)
    with _KEEPING:
        kept[key] = charts
        while len(kept) > TRENDS_KEPT:
            kept.popitem(last=False)
    return charts


_KEEPING = threading.Lock()


def trends_drawn(end: date, days: int) -> tuple[Chart, Chart, Chart]:
    """The network's occupancy, and each region's bed and ICU occupancy, over the `days`
    ending `end`, in the active hospitals that reported each day: one query of the daily sums
    per region (summary.py), a row per region and day whatever the number of reports; the
    network's days are the sums of its regions'."""
    dates = days_ending(end, days)
    index = {d: i for i, d in enumerate(dates)}
    network: dict[date, list[int]] = {}
    beds: dict[str, list] = {}
    icu: dict[str, list] = {}
    rows = db.session.connection().execute(_TREND, {"first": dates[0], "last": end})
    # Plain integer columns (no SUM()), so ints on every database. A loop kept lean: a year
    # of eight regions is 2,920 rows.
    for region, day, count, occupied, total, icu_occupied, icu_total in rows:
        sums = network.get(day)
        if sums is None:
            network[day] = [count, occupied, total, icu_occupied, icu_total]
        else:
            sums[0] += count
            sums[1] += occupied
            sums[2] += total
            sums[3] += icu_occupied
            sums[4] += icu_total
        i = index[day]
        if region not in beds:
            beds[region], icu[region] = [None] * days, [None] * days
        beds[region][i] = 100 * occupied / total if total else None
        icu[region][i] = 100 * icu_occupied / icu_total if icu_total else None
    period = f"last {days} days to {end.day} {end:%b %Y}"
    network_chart = occupancy_chart(
        "chart-network",
        f"Network occupancy, {period}",
        "Occupied beds over all beds, and occupied ICU beds over all ICU beds, in the active "
        "hospitals that reported each day.",
        dates,
        {day: sums[1:] for day, sums in network.items()},
        extra=[("Hospitals reporting", [network[d][0] if d in network else None for d in dates])],
    )
    regions = sorted(beds)
    beds_chart, icu_chart = (
        Chart(
            id=f"chart-regions-{key}",
            title=f"{name} by region, {period}",
            caption=f"{what} of the active hospitals of each region that reported each day.",
            dates=dates,
            series=[Series(r, tuple(values[r])) for r in regions],
        )
        for key, name, what, values in (
            ("beds", "Bed occupancy", "Occupied beds over all beds", beds),
            ("icu", "ICU occupancy", "Occupied ICU beds over all ICU beds", icu),
        )
    )
    return network_chart, beds_chart, icu_chart
