"""What the reports area reads: the list of reports (and its CSV export), the hospitals its
filter offers, and the report a new one starts from."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import Hospital, RegionDay, Report


def hospital_choices() -> list:
    """(id, code, name) of every hospital, by name: the list filter's datalist."""
    return db.session.execute(
        select(Hospital.id, Hospital.code, Hospital.name).order_by(Hospital.name, Hospital.id)
    ).all()


def filtered_reports(filters) -> Select:
    """The reports the list's `filters` (forms.ReportFilters, validated) select, joined to
    their hospital, in the order they ask for: the list and its CSV export."""
    stmt = select(Report).join(Report.hospital)
    hospital_id = filters.hospital_id()
    if hospital_id is not None:
        stmt = stmt.where(Report.hospital_id == hospital_id)
    stmt = _in_region_and_range(stmt, filters, Hospital.region, Report.report_date)
    day = Report.report_date
    return stmt.order_by(day.desc() if filters.newest_first() else day, Hospital.name, Report.id)


def _in_region_and_range(stmt: Select, filters, region, day) -> Select:
    """`stmt` kept to the filters' region and dates, on the `region` and `day` columns (the
    reports' or the daily sums')."""
    if filters.region.data:
        # The stored spelling (web.RegionFilter): equality uses the region index.
        stmt = stmt.where(region == filters.region.data)
    if filters.date_from.data:
        stmt = stmt.where(day >= filters.date_from.data)
    if filters.date_to.data:
        stmt = stmt.where(day <= filters.date_to.data)
    return stmt


def report_with_hospital(report_id: int) -> Report | None:
    return db.session.get(Report, report_id, options=[joinedload(Report.hospital)])


def latest_report(hospital_id: int) -> Report | None:
    """The hospital's newest report: a new one starts with its capacity figures."""
    return db.session.scalar(
        select(Report)
        .where(Report.hospital_id == hospital_id)
        .order_by(Report.report_date.desc())
        .limit(1)
    )


def signed_off_count(stmt: Select) -> int:
    """How many of the reports `stmt` (filtered_reports) selects are signed off: one
    aggregate query, beside the page's count of them all."""
    counted = stmt.with_only_columns(func.count(Report.signed_off_at)).order_by(None)
    return db.session.scalar(counted) or 0


def counted(filters) -> tuple[int, int] | None:
    """How many reports the list's `filters` select, and how many of them are signed off,
    read from the daily sums per region (summary.py): a row per region and day instead of
    every report. None when the filters name a hospital: the sums are per region, and one
    hospital's reports are few enough to count."""
    if filters.hospital.data:
        return None
    stmt = select(
        func.coalesce(func.sum(RegionDay.reports), 0),
        func.coalesce(func.sum(RegionDay.signed_off), 0),
    )
    stmt = _in_region_and_range(stmt, filters, RegionDay.region, RegionDay.report_date)
    total, signed_off = db.session.execute(stmt).one()
    return int(total), int(signed_off)  # MariaDB's SUM() is a Decimal
