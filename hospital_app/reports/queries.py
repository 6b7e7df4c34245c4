"""What the reports area reads: the list of reports (and its CSV export), the hospitals its
filter offers, and the report a new one starts from."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload

from .. import rules
from ..extensions import db
from ..models import Hospital, Report


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
    if filters.region.data:
        # The stored spelling (web.RegionFilter): equality uses the region index.
        stmt = stmt.where(Hospital.region == filters.region.data)
    if filters.date_from.data:
        stmt = stmt.where(Report.report_date >= filters.date_from.data)
    if filters.date_to.data:
        stmt = stmt.where(Report.report_date <= filters.date_to.data)
    day = Report.report_date
    return stmt.order_by(day.desc() if filters.newest_first() else day, Hospital.name, Report.id)


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


def template_hospitals() -> list:
    """Every active hospital, by code, with the capacity figures of its newest report (None
    for a hospital without reports): rows (Hospital, beds_total, icu_beds_total,
    ventilators_total), in one query, for the prefilled import template."""
    newest = (
        select(Report.hospital_id, func.max(Report.report_date).label("report_date"))
        .group_by(Report.hospital_id)
        .subquery()
    )
    capacity = [getattr(Report, name) for name in rules.CAPACITY_FIELDS]
    return db.session.execute(
        select(Hospital, *capacity)
        .where(Hospital.is_active.is_(True))
        .outerjoin(newest, newest.c.hospital_id == Hospital.id)
        .outerjoin(
            Report,
            (Report.hospital_id == newest.c.hospital_id)
            & (Report.report_date == newest.c.report_date),
        )
        .order_by(Hospital.code)
    ).all()
