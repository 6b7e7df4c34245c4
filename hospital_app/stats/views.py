"""Statistics reports: add one to a hospital, change it, delete it."""

from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, abort, flash, make_response, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .. import rules
from ..auth.policy import require
from ..conflicts import changed_since_opened, explain, form_values, last_change
from ..database import commit_form
from ..extensions import db
from ..models import Hospital, HospitalStats
from ..web import ActionForm, form_status, see_other
from .forms import StatsForm

bp = Blueprint("stats", __name__)


def _report_or_404(report_id: int) -> HospitalStats:
    report = db.session.get(HospitalStats, report_id, options=[joinedload(HospitalStats.hospital)])
    if report is None:
        # Someone deleted it while this person had it open: say who and when, not just 404.
        entry = last_change("report", report_id)
        if entry is not None and entry.action == "delete":
            abort(make_response(render_template("stats/gone.html", entry=entry), 410))
        abort(404)
    return report


def _asked_date() -> date | None:
    """A usable ?date=, else None (the form then starts at today, as without one)."""
    try:
        asked = datetime.strptime(request.args.get("date", ""), rules.REPORT_DATE_FORMAT).date()
    except ValueError:
        return None
    return None if rules.report_date_errors(asked) else asked


@bp.route("/hospitals/<int:hospital_id>/stats/new", methods=["GET", "POST"])
def new(hospital_id: int):
    # On POST, a shared lock on the hospital row: an archive saved at the same moment waits
    # for this report's commit, or is seen here (PostgreSQL, MariaDB; SQLite has one writer).
    hospital = db.get_or_404(
        Hospital, hospital_id, with_for_update={"read": True} if request.method == "POST" else None
    )
    require("report.write", hospital)
    if not hospital.is_active:
        # Archived hospitals take no new reports; say so, and offer the way back.
        return render_template("stats/archived.html", hospital=hospital, action=ActionForm()), 409
    form = StatsForm(hospital_id=hospital.id)
    if not form.is_submitted():
        # ?date=: the day the person came to fill in (the dashboard's missing list links so).
        asked = _asked_date()
        if asked is not None:
            form.report_date.data = asked
        previous = db.session.scalar(
            select(HospitalStats)
            .where(HospitalStats.hospital_id == hospital.id)
            .order_by(HospitalStats.report_date.desc())
            .limit(1)
        )
        if previous is not None:
            # Capacity rarely changes from one day to the next; the clerk types only what did.
            for name in rules.CAPACITY_FIELDS:
                form[name].data = getattr(previous, name)
            if previous.report_date == form.report_date.data:
                form.existing_report_id = previous.id  # today's is in: say so before typing
    elif form.validate():
        report = HospitalStats(hospital_id=hospital.id)
        form.apply_report(report)
        db.session.add(report)
        if commit_form(form):
            flash(
                f"The report for {form.report_date.data.isoformat()} was added to {hospital.name}.",
                "success",
            )
            return see_other("hospitals.detail", hospital_id=hospital.id)
    return render_template("stats/new.html", form=form, hospital=hospital), form_status(form)


@bp.route("/stats/<int:report_id>/edit", methods=["GET", "POST"])
def edit(report_id: int):
    report = _report_or_404(report_id)
    hospital = report.hospital
    require("report.write", hospital)
    form = StatsForm(obj=report, hospital_id=report.hospital_id, report_id=report.id)
    if form.validate_on_submit():
        compare = form_values(form, form.report_fields())
        if changed_since_opened(form, report):
            explain(form, report, compare)
        else:
            form.apply_report(report)
            if not db.session.is_modified(report):
                flash("Nothing was changed.", "info")
                return see_other("hospitals.detail", hospital_id=hospital.id)
            if commit_form(form, report, compare):
                flash(
                    f"The report for {form.report_date.data.isoformat()} of {hospital.name} "
                    "was saved.",
                    "success",
                )
                return see_other("hospitals.detail", hospital_id=hospital.id)
    return render_template(
        "stats/edit.html", form=form, report=report, hospital=hospital
    ), form_status(form)


@bp.route("/stats/<int:report_id>/delete", methods=["GET", "POST"])
def delete(report_id: int):
    """GET asks for confirmation; POST (with the form's token) deletes."""
    report = _report_or_404(report_id)
    hospital = report.hospital
    require("report.write", hospital)
    form = ActionForm(obj=report)
    if form.validate_on_submit():
        when = report.report_date.isoformat()
        if changed_since_opened(form, report):
            # They see the figures they would delete, as stored now, and decide again (409).
            explain(form, report)
        else:
            db.session.delete(report)
            if commit_form(form, report):
                flash(f"The report for {when} of {hospital.name} was deleted.", "success")
            else:
                flash(" ".join(form.form_errors), "error")
            return see_other("hospitals.detail", hospital_id=hospital.id)
    # Asked to confirm (200), again after a conflict (409), or with a damaged form (422).
    return render_template(
        "stats/delete.html", form=form, report=report, hospital=hospital
    ), form_status(form)
