"""/hospitals: the list and its CSV export, a new hospital (with its first report), a
hospital's page, editing, archiving and restoring it, and its history."""

from __future__ import annotations

from flask import Blueprint, flash, render_template, request

from .. import rules
from ..audit import queries as audit_queries
from ..csvfiles import csv_response, neutralise
from ..extensions import db
from ..models import Hospital, Report
from ..policy import require
from ..saving import Outcome, save, toggle
from ..timeliness import queries as timeliness
from ..web import (
    ActionForm,
    PageArgs,
    export_args,
    flash_toggle,
    form_status,
    list_status,
    see_other,
)
from . import queries
from .forms import HospitalForm, ListFilters, NewHospitalForm

bp = Blueprint("hospitals", __name__, url_prefix="/hospitals")


@bp.get("")
def index():
    filters = ListFilters(request.args, regions=queries.regions_in_use())
    page = archived = None
    if filters.validate():
        page = filters.page_of(
            *queries.hospital_page(filters, filters.page_number(), filters.per_page())
        )
        if filters.status.data == "active":
            # Someone typing a code they know, unaware the hospital was archived.
            archived = queries.archived_with_code(filters.q.data)
    return render_template(
        "hospitals/index.html",
        filters=filters,
        page=page,
        archived=archived,
        export_args=export_args(),
    ), list_status(page)


EXPORT_COLUMNS = [
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


def _export_cells(row) -> list:
    h = row[0]
    r = h.latest_report
    latest = [None] * 8
    if r is not None:
        occupancy = None if r.occupancy is None else round(r.occupancy, 1)
        latest = [
            r.report_date.isoformat(),
            r.beds_total,
            r.beds_occupied,
            occupancy,
            r.icu_beds_total,
            r.icu_beds_occupied,
            r.ventilators_total,
            r.ventilators_in_use,
        ]
    status = "active" if h.is_active else "archived"
    text = (h.code, h.name, h.region, h.city, h.ownership, status)
    return [*map(neutralise, text), *latest]


@bp.get("/export.csv")
def export():
    """Every hospital of the list with the same query string, every page of it."""
    filters = ListFilters(request.args, regions=queries.regions_in_use())
    if not filters.validate():
        return render_template(
            "hospitals/index.html", filters=filters, page=None, export_args={}
        ), 400
    stmt = queries.with_latest_report(queries.filtered_hospitals(filters))
    filename = f"hospitals-{rules.today().isoformat()}.csv"
    return csv_response(filename, EXPORT_COLUMNS, stmt, _export_cells)


@bp.route("/new", methods=["GET", "POST"])
def new():
    require("hospital.create")
    form = NewHospitalForm()
    hospital, report = Hospital(), Report()

    def apply():
        form.hospital.apply(hospital)
        form.report.apply_report(report)
        report.hospital = hospital
        db.session.add_all([hospital, report])

    if save(form, hospital, apply) is Outcome.SAVED:
        flash(
            f"Hospital {hospital.name} ({hospital.code}) was created "
            f"with its report for {rules.day_text(report.report_date)}.",
            "success",
        )
        return see_other(".detail", hospital_id=hospital.id)
    return render_template(
        "hospitals/new.html", form=form, regions=queries.regions_in_use()
    ), form_status(form)


@bp.get("/<int:hospital_id>")
def detail(hospital_id: int):
    hospital = db.get_or_404(Hospital, hospital_id)
    args = PageArgs(request.args)
    reports, signed_off = None, 0
    if args.validate():
        items, total, signed_off = queries.report_page(
            hospital, args.page_number(), args.per_page()
        )
        reports = args.page_of(items, total)
    return render_template(
        "hospitals/detail.html",
        hospital=hospital,
        reports=reports,
        signed_off=signed_off,
        args=args,
        action=ActionForm(),
        chart=queries.hospital_chart(hospital),
        calendar=timeliness.calendar(hospital),
        states=timeliness.STATES,
    ), list_status(reports)


@bp.route("/<int:hospital_id>/edit", methods=["GET", "POST"])
def edit(hospital_id: int):
    hospital = db.get_or_404(Hospital, hospital_id)
    require("hospital.edit")
    form = HospitalForm(hospital=hospital)
    outcome = save(form, hospital, lambda: form.apply(hospital))
    if outcome is Outcome.UNCHANGED:
        flash("Nothing was changed.", "info")
        return see_other(".detail", hospital_id=hospital.id)
    if outcome is Outcome.SAVED:
        flash(f"Hospital {hospital.name} ({hospital.code}) was saved.", "success")
        return see_other(".detail", hospital_id=hospital.id)
    return render_template(
        "hospitals/edit.html", form=form, hospital=hospital, regions=queries.regions_in_use()
    ), form_status(form)


def _set_active(hospital_id: int, active: bool):
    hospital = db.get_or_404(Hospital, hospital_id)
    require("hospital.archive")
    form = ActionForm()
    name = hospital.name
    outcome = toggle(
        form,
        hospital,
        already=hospital.is_active == active,
        apply=lambda: setattr(hospital, "is_active", active),
    )
    if active:
        saved = f"{name} was restored and takes new reports again."
    else:
        saved = (
            f"{name} was archived: it is hidden from the list and takes no new reports. "
            "Restore it from this page at any time."
        )
    flash_toggle(
        form,
        outcome,
        saved=saved,
        unchanged=f"{name} is already {'active' if active else 'archived'}.",
        conflict_hint="Check the hospital below, then try again.",
    )
    return see_other(".detail", hospital_id=hospital_id)


@bp.route("/<int:hospital_id>/archive", methods=["GET", "POST"])
def archive(hospital_id: int):
    """GET asks for confirmation; POST (with the form's token and version) archives."""
    if request.method == "POST":
        return _set_active(hospital_id, False)
    hospital = db.get_or_404(Hospital, hospital_id)
    require("hospital.archive")
    if not hospital.is_active:
        flash(f"{hospital.name} is already archived.", "info")
        return see_other(".detail", hospital_id=hospital.id)
    return render_template(
        "hospitals/archive.html", hospital=hospital, form=ActionForm(obj=hospital)
    )


@bp.post("/<int:hospital_id>/restore")
def restore(hospital_id: int):
    return _set_active(hospital_id, True)


@bp.get("/<int:hospital_id>/history")
def history(hospital_id: int):
    """The hospital's own changes and those of its reports, deleted ones included."""
    hospital = db.get_or_404(Hospital, hospital_id)
    args = PageArgs(request.args)
    entries = args.paginate(audit_queries.of_hospital(hospital.id)) if args.validate() else None
    return render_template(
        "hospitals/history.html", hospital=hospital, entries=entries, args=args
    ), list_status(entries)
