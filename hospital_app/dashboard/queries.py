"""What the dashboard shows, each part one aggregate query: the database adds up the reports,
Python only divides the sums it gets back and lays days out for the charts.

What the figures cover: the reports dated the chosen day from hospitals that are active now.
Archived hospitals are left out everywhere on the dashboard (their reports are counted apart,
so the page can say how many were left out); hospitals that did not report are not
estimated. Percentages are sums divided by sums (all occupied beds over all beds), never
averages of the hospitals' own percentages.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import contains_eager

from .. import rules
from ..charts import Chart, Series
from ..extensions import db
from ..models import Hospital, HospitalStats

ACTIVE = Hospital.is_active.is_(True)
SUMMED = (
    "beds_total",
    "beds_occupied",
    "icu_beds_total",
    "icu_beds_occupied",
    "ventilators_total",
    "ventilators_in_use",
)
OUTLIER_DAYS = 30  # confirmed outliers: the chosen day and the 30 days before


def ratio(part: int | None, whole: int | None) -> float | None:
    """Percent; None where there is nothing to divide by (no beds, no reports). int(): MariaDB
    returns SUM() as a Decimal, of whole numbers here."""
    return 100 * int(part) / int(whole) if whole else None


@dataclass(frozen=True)
class Totals:
    """The sums of one day's reports, for the network or one region."""

    hospitals: int  # active hospitals
    reported: int  # of them, those with a report that day
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
        hospitals, reported, *sums = (int(v or 0) for v in row)
        return cls(hospitals, reported, *sums, region=region)

    @property
    def missing(self) -> int:
        return self.hospitals - self.reported

    @property
    def completeness(self) -> float | None:
        return ratio(self.reported, self.hospitals)

    @property
    def occupancy(self) -> float | None:
        return ratio(self.beds_occupied, self.beds_total)

    @property
    def icu_occupancy(self) -> float | None:
        return ratio(self.icu_beds_occupied, self.icu_beds_total)


def _day_columns():
    return (
        func.count(Hospital.id),
        func.count(HospitalStats.id),
        *(func.coalesce(func.sum(getattr(HospitalStats, name)), 0) for name in SUMMED),
    )


def _active_with_report_of(day: date, *columns):
    """Every active hospital, beside its report of `day` if it has one."""
    return (
        select(*columns)
        .select_from(Hospital)
        .outerjoin(
            HospitalStats,
            and_(HospitalStats.hospital_id == Hospital.id, HospitalStats.report_date == day),
        )
        .where(ACTIVE)
    )


def network_totals(day: date) -> Totals:
    return Totals.from_row(db.session.execute(_active_with_report_of(day, *_day_columns())).one())


def region_totals(day: date) -> list[Totals]:
    stmt = (
        _active_with_report_of(day, Hospital.region, *_day_columns())
        .group_by(Hospital.region)
        .order_by(Hospital.region)
    )
    return [Totals.from_row(row[1:], region=row[0]) for row in db.session.execute(stmt)]


def archived_reports(day: date) -> int:
    """Reports of `day` from hospitals archived since: left out of the totals."""
    return db.session.scalar(
        select(func.count())
        .select_from(HospitalStats)
        .join(Hospital, Hospital.id == HospitalStats.hospital_id)
        .where(HospitalStats.report_date == day, Hospital.is_active.is_(False))
    )


def missing_hospitals(day: date, first_ids: Collection[int] = ()):
    """Active hospitals without a report of `day`, by name; `first_ids` (an editor's own
    hospitals) ahead of the others, so the ones they can enter are on the first page."""
    reported = exists().where(
        HospitalStats.hospital_id == Hospital.id, HospitalStats.report_date == day
    )
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
    beds = HospitalStats.beds_occupied * 1.0 / func.nullif(HospitalStats.beds_total, 0)
    icu = HospitalStats.icu_beds_occupied * 1.0 / func.nullif(HospitalStats.icu_beds_total, 0)
    # The higher of the two; a NULL (no ICU beds) compares false and leaves the bed figure.
    peak = case((icu > beds, icu), else_=beds)
    return (
        select(HospitalStats)
        .join(HospitalStats.hospital)
        .options(contains_eager(HospitalStats.hospital))
        .where(
            HospitalStats.report_date == day,
            ACTIVE,
            or_(
                _at_least(HospitalStats.beds_occupied, HospitalStats.beds_total, tenths),
                _at_least(HospitalStats.icu_beds_occupied, HospitalStats.icu_beds_total, tenths),
            ),
        )
        .order_by(peak.desc(), Hospital.name, Hospital.id)
    )


def confirmed_outliers(day: date):
    """Reports confirmed as correct although unusual, of `day` and the OUTLIER_DAYS before
    (active hospitals), newest first."""
    return (
        select(HospitalStats)
        .join(HospitalStats.hospital)
        .options(contains_eager(HospitalStats.hospital))
        .where(
            HospitalStats.outlier_confirmed.is_(True),
            HospitalStats.report_date.between(day - timedelta(days=OUTLIER_DAYS), day),
            ACTIVE,
        )
        .order_by(HospitalStats.report_date.desc(), Hospital.name, Hospital.id)
    )


def first(stmt, limit: int) -> tuple[list, int]:
    """The first `limit` rows of an entity query and how many there are in all, in one query
    (COUNT(*) OVER (), which SQLite, PostgreSQL and MariaDB all have)."""
    rows = db.session.execute(stmt.add_columns(func.count().over()).limit(limit)).all()
    return [row[0] for row in rows], (rows[0][1] if rows else 0)


# --- Trends ----------------------------------------------------------------------------------


def days_ending(end: date, days: int) -> list[date]:
    return [end - timedelta(days=days - 1 - i) for i in range(days)]


def _trend_columns():
    return (
        func.count(),
        func.sum(HospitalStats.beds_occupied),
        func.sum(HospitalStats.beds_total),
        func.sum(HospitalStats.icu_beds_occupied),
        func.sum(HospitalStats.icu_beds_total),
    )


def _trend(end: date, days: int, *keys):
    return (
        select(*keys, HospitalStats.report_date, *_trend_columns())
        .join(Hospital, Hospital.id == HospitalStats.hospital_id)
        .where(ACTIVE, HospitalStats.report_date.between(end - timedelta(days=days - 1), end))
        .group_by(*keys, HospitalStats.report_date)
    )


def _occupancy_series(dates: list[date], by_day: dict) -> list[Series]:
    """Bed and ICU occupancy for each of `dates`, from {day: (beds occupied, beds, ICU beds
    occupied, ICU beds)}; a day missing there is a gap."""
    figures = [by_day.get(d, (None,) * 4) for d in dates]
    return [
        Series("Bed occupancy", tuple(ratio(f[0], f[1]) for f in figures)),
        Series("ICU occupancy", tuple(ratio(f[2], f[3]) for f in figures)),
    ]


def network_trend(end: date, days: int) -> Chart:
    dates = days_ending(end, days)
    counts, by_day = {}, {}
    for day, count, *figures in db.session.execute(_trend(end, days)):
        counts[day], by_day[day] = count, figures
    return Chart(
        id="chart-network",
        title=f"Network occupancy, last {days} days to {end.day} {end:%b %Y}",
        caption="Occupied beds over all beds, and occupied ICU beds over all ICU beds, in the "
        "active hospitals that reported each day.",
        dates=dates,
        series=_occupancy_series(dates, by_day),
        extra=[("Hospitals reporting", [counts.get(d) for d in dates])],
    )


def region_trends(end: date, days: int) -> tuple[Chart, Chart]:
    dates = days_ending(end, days)
    index = {d: i for i, d in enumerate(dates)}
    beds: dict[str, list] = {}
    icu: dict[str, list] = {}
    for region, day, _count, occupied, total, icu_occupied, icu_total in db.session.execute(
        _trend(end, days, Hospital.region)
    ):
        i = index[day]
        beds.setdefault(region, [None] * days)[i] = ratio(occupied, total)
        icu.setdefault(region, [None] * days)[i] = ratio(icu_occupied, icu_total)
    regions = sorted(beds)
    period = f"last {days} days to {end.day} {end:%b %Y}"
    return (
        Chart(
            id="chart-regions-beds",
            title=f"Bed occupancy by region, {period}",
            caption="Occupied beds over all beds of the active hospitals of each region that "
            "reported each day.",
            dates=dates,
            series=[Series(r, tuple(beds[r])) for r in regions],
        ),
        Chart(
            id="chart-regions-icu",
            title=f"ICU occupancy by region, {period}",
            caption="Occupied ICU beds over all ICU beds of the active hospitals of each region "
            "that reported each day.",
            dates=dates,
            series=[Series(r, tuple(icu[r])) for r in regions],
        ),
    )


HOSPITAL_CHART_DAYS = 90


def hospital_chart(
    hospital: Hospital, end: date | None = None, days: int = HOSPITAL_CHART_DAYS
) -> Chart:
    """One hospital's bed and ICU occupancy, day by day to `end` (today): its own reports,
    one query."""
    end = end or rules.today()
    dates = days_ending(end, days)
    stmt = select(
        HospitalStats.report_date,
        HospitalStats.beds_occupied,
        HospitalStats.beds_total,
        HospitalStats.icu_beds_occupied,
        HospitalStats.icu_beds_total,
    ).where(
        HospitalStats.hospital_id == hospital.id,
        HospitalStats.report_date.between(dates[0], end),
    )
    by_day = {day: figures for day, *figures in db.session.execute(stmt)}
    return Chart(
        id="chart-hospital",
        title=f"{hospital.name}: occupancy, last {days} days to {end.day} {end:%b %Y}",
        caption="Occupied beds over beds, and occupied ICU beds over ICU beds, as reported each "
        "day. Days without a report are gaps.",
        dates=dates,
        series=_occupancy_series(dates, by_day),
    )
