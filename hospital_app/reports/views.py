"""The statistics list (GET /stats) and the CSV exports of both lists.

Each export runs the very function that filters and sorts its list page, with the same query
string, so it holds exactly the rows of every page of that list.
"""

from __future__ import annotations

import re
import unicodedata

from flask import Blueprint, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from .. import rules
from ..csvcells import REPORT_COLUMNS, neutralise
from ..extensions import db
from ..hospitals.forms import ListFilters, regions_in_use
from ..hospitals.views import filtered_hospitals
from ..models import Hospital, HospitalStats, with_latest_report
from .csvout import csv_response
from .forms import StatsFilters

bp = Blueprint("reports", __name__)

HOSPITAL_COLUMNS = [
    "code",
    "name",
    "region",
    "city",
    "ownership",
    "status",
    "latest_report_date",
    "beds_total",
    "beds_occupied",
    "bed_occupancy_percent",
    "icu_beds_total",
    "icu_beds_occupied",
    "ventilators_total",
    "ventilators_in_use",
]


def _stats_filters() -> StatsFilters:
    hospitals = db.session.execute(
        select(Hospital.id, Hospital.code, Hospital.name).order_by(Hospital.name, Hospital.id)
    ).all()
    return StatsFilters(request.args, hospitals=hospitals, regions=regions_in_use())


def filtered_reports(filters: StatsFilters):
    """The reports `filters` select, joined to their hospital, in the order they ask for:
    the list and its CSV export."""
    stmt = select(HospitalStats).join(HospitalStats.hospital)
    hospital_id = filters.hospital_id()
    if hospital_id is not None:
        stmt = stmt.where(HospitalStats.hospital_id == hospital_id)
    if filters.region.data:
        # The stored spelling (validate_region): equality uses the region index.
        stmt = stmt.where(Hospital.region == filters.region.data)
    if filters.date_from.data:
        stmt = stmt.where(HospitalStats.report_date >= filters.date_from.data)
    if filters.date_to.data:
        stmt = stmt.where(HospitalStats.report_date <= filters.date_to.data)
    day = HospitalStats.report_date
    return stmt.order_by(
        day.desc() if filters.newest_first() else day, Hospital.name, HospitalStats.id
    )


@bp.get("/stats")
def index():
    filters = _stats_filters()
    page = None
    if filters.validate():
        page = filters.paginate(
            filtered_reports(filters).options(contains_eager(HospitalStats.hospital))
        )
    export_args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "reports/index.html", filters=filters, page=page, export_args=export_args
    ), (200 if page is not None else 400)


def _slug(text: str) -> str:
    """ASCII letters, digits and hyphens: safe in a file name on every system."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _reports_filename(filters: StatsFilters) -> str:
    parts = ["reports"]
    if filters.hospital.data:
        parts.append(_slug(filters.hospital.data))
    if filters.region.data:
        parts.append(_slug(filters.region.data) or "region")
    if filters.date_from.data:
        parts.append(f"from-{filters.date_from.data.isoformat()}")
    if filters.date_to.data:
        parts.append(f"to-{filters.date_to.data.isoformat()}")
    if len(parts) == 1:
        parts.append("all")
    parts.append(rules.today().isoformat())
    return "-".join(parts) + ".csv"


@bp.get("/stats/export.csv")
def export_reports():
    filters = _stats_filters()
    if not filters.validate():
        return render_template(
            "reports/index.html", filters=filters, page=None, export_args={}
        ), 400
    columns = [getattr(HospitalStats, name) for name in rules.COUNT_FIELDS]
    stmt = filtered_reports(filters).with_only_columns(
        Hospital.code, HospitalStats.report_date, *columns, HospitalStats.notes
    )

    def cells(row):
        code, day, *counts, notes = row
        return [neutralise(code), day.isoformat(), *counts, neutralise(notes)]

    return csv_response(_reports_filename(filters), REPORT_COLUMNS, stmt, cells)


@bp.get("/hospitals/export.csv")
def export_hospitals():
    filters = ListFilters(request.args, regions=regions_in_use())
    if not filters.validate():
        return render_template(
            "hospitals/index.html",
            filters=filters,
            page=None,
            export_args={},
        ), 400

    def cells(row):
        h = row[0]
        r = h.latest_report
        occupancy = None if r is None or r.occupancy is None else round(r.occupancy, 1)
        latest = (
            [
                r.report_date.isoformat(),
                r.beds_total,
                r.beds_occupied,
                occupancy,
                r.icu_beds_total,
                r.icu_beds_occupied,
                r.ventilators_total,
                r.ventilators_in_use,
            ]
            if r is not None
            else [None] * 8
        )
        status = "active" if h.is_active else "archived"
        text = (h.code, h.name, h.region, h.city, h.ownership, status)
        return [*map(neutralise, text), *latest]

    stmt = with_latest_report(filtered_hospitals(filters))
    filename = f"hospitals-{rules.today().isoformat()}.csv"
    return csv_response(filename, HOSPITAL_COLUMNS, stmt, cells)
