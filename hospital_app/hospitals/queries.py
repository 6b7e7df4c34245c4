"""What the hospitals area reads: the list (and its CSV export) with each hospital's newest
report, the regions in use, and a hospital's occupancy chart. Other areas may use these: the
hospitals area owns the hospitals' data."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import aliased, contains_eager

from .. import rules
from ..charts import Chart, days_ending, occupancy_chart
from ..extensions import db
from ..models import Hospital, Report


def regions_in_use() -> list[str]:
    """Every region a hospital is in, as stored, in order."""
    return list(db.session.scalars(select(Hospital.region).distinct().order_by(Hospital.region)))


def with_latest_report(stmt: Select) -> Select:
    """Join each hospital of `stmt` to its newest report and fill `latest_report` from it.

    A correlated subquery, so the database looks up only the hospitals the page shows
    (through the (hospital_id, report_date) unique index), in the same single query.
    """
    latest = aliased(Report)
    newer = aliased(Report)
    newest_date = (
        select(func.max(newer.report_date))
        .where(newer.hospital_id == Hospital.id)
        .scalar_subquery()
    )
    return stmt.outerjoin(
        latest, (latest.hospital_id == Hospital.id) & (latest.report_date == newest_date)
    ).options(contains_eager(Hospital.latest_report.of_type(latest)))


def filtered_hospitals(filters) -> Select:
    """The hospitals the list's `filters` (forms.ListFilters, validated) select, in the order
    they ask for: the list and its CSV export."""
    stmt = select(Hospital)
    if filters.q.data:
        q = filters.q.data
        stmt = stmt.where(
            or_(
                Hospital.name.icontains(q, autoescape=True),
                Hospital.code.icontains(q.upper(), autoescape=True),
            )
        )
    if filters.region.data:
        # Already the stored spelling (web.RegionFilter): equality uses the index.
        stmt = stmt.where(Hospital.region == filters.region.data)
    if filters.ownership.data:
        stmt = stmt.where(Hospital.ownership == filters.ownership.data)
    if filters.status.data == "active":
        stmt = stmt.where(Hospital.is_active.is_(True))
    elif filters.status.data == "archived":
        stmt = stmt.where(Hospital.is_active.is_(False))
    key, descending = filters.sort_key()
    if key == "occupancy":
        # The latest report's beds_occupied / beds_total (NULL with no report or no beds),
        # read per hospital through the (hospital_id, report_date) unique index. It lies in
        # 0..1 (a CHECK keeps occupied <= total), so a sentinel outside that range puts the
        # NULLs last in either direction on all three databases (MariaDB has no NULLS LAST).
        occupancy = (
            select(Report.beds_occupied * 1.0 / func.nullif(Report.beds_total, 0))
            .where(Report.hospital_id == Hospital.id)
            .order_by(Report.report_date.desc())
            .limit(1)
            .scalar_subquery()
        )
        first = func.coalesce(occupancy, -1).desc() if descending else func.coalesce(occupancy, 2)
        return stmt.order_by(first, Hospital.name, Hospital.id)
    if key == "name":
        return stmt.order_by(*(c.desc() if descending else c for c in (Hospital.name, Hospital.id)))
    column = {"code": Hospital.code, "region": Hospital.region}[key]
    return stmt.order_by(column.desc() if descending else column, Hospital.name, Hospital.id)


def archived_with_code(q: str | None) -> Hospital | None:
    """The archived hospital whose code is exactly `q` (any case), if any: a search of the
    active list for it can say where it went rather than find nothing."""
    if not q:
        return None
    return db.session.scalar(
        select(Hospital).where(
            Hospital.code == rules.normalise_code(q), Hospital.is_active.is_(False)
        )
    )


def reports_newest_first(hospital: Hospital) -> Select:
    """A hospital's reports, for the table on its page."""
    return (
        select(Report).where(Report.hospital_id == hospital.id).order_by(Report.report_date.desc())
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
        Report.report_date,
        Report.beds_occupied,
        Report.beds_total,
        Report.icu_beds_occupied,
        Report.icu_beds_total,
    ).where(
        Report.hospital_id == hospital.id,
        Report.report_date.between(dates[0], end),
    )
    by_day = {day: figures for day, *figures in db.session.execute(stmt)}
    return occupancy_chart(
        "chart-hospital",
        f"{hospital.name}: occupancy, last {days} days to {end.day} {end:%b %Y}",
        "Occupied beds over beds, and occupied ICU beds over ICU beds, as reported each day. "
        "Days without a report are gaps.",
        dates,
        by_day,
    )


def signed_off_count(hospital: Hospital) -> int:
    """How many of `hospital`'s reports are signed off (review/): one aggregate query."""
    stmt = select(func.count(Report.signed_off_at)).where(Report.hospital_id == hospital.id)
    return db.session.scalar(stmt) or 0
