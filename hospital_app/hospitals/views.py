"""/hospitals: the list, the create form (hospital and first report), details, edit, archive."""

from __future__ import annotations

from flask import Blueprint, flash, render_template, request
from sqlalchemy import func, or_, select

from ..auth.policy import require
from ..conflicts import changed_since_opened, explain, form_values
from ..database import commit_form
from ..extensions import db
from ..models import Hospital, HospitalStats, with_latest_report
from ..web import ActionForm, PageArgs, form_status, see_other
from .forms import HospitalForm, ListFilters, NewHospitalForm, regions_in_use

bp = Blueprint("hospitals", __name__, url_prefix="/hospitals")


def filtered_hospitals(filters: ListFilters):
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
        stmt = stmt.where(func.lower(Hospital.region) == filters.region.data.lower())
    if filters.ownership.data:
        stmt = stmt.where(Hospital.ownership == filters.ownership.data)
    if filters.status.data == "active":
        stmt = stmt.where(Hospital.is_active.is_(True))
    elif filters.status.data == "archived":
        stmt = stmt.where(Hospital.is_active.is_(False))
    return stmt


@bp.get("")
def index():
    filters = ListFilters(request.args)
    page = None
    if filters.validate():
        stmt = with_latest_report(filtered_hospitals(filters)).order_by(Hospital.name, Hospital.id)
        page = filters.paginate(stmt)
    return render_template(
        "hospitals/index.html", filters=filters, page=page, regions=regions_in_use()
    ), (200 if page is not None else 400)


@bp.route("/new", methods=["GET", "POST"])
def new():
    require("hospital.create")
    form = NewHospitalForm()
    if form.validate_on_submit():
        hospital = Hospital()
        form.apply_hospital(hospital)
        report = HospitalStats(hospital=hospital)
        form.apply_report(report)
        db.session.add_all([hospital, report])
        if commit_form(form):
            flash(
                f"Hospital {hospital.name} ({hospital.code}) was created "
                f"with its report for {report.report_date.isoformat()}.",
                "success",
            )
            return see_other(".detail", hospital_id=hospital.id)
    return render_template("hospitals/new.html", form=form, regions=regions_in_use()), form_status(
        form
    )


@bp.get("/<int:hospital_id>")
def detail(hospital_id: int):
    hospital = db.get_or_404(Hospital, hospital_id)
    args = PageArgs(request.args)
    reports = None
    if args.validate():
        reports = args.paginate(
            select(HospitalStats)
            .where(HospitalStats.hospital_id == hospital.id)
            .order_by(HospitalStats.report_date.desc())
        )
    return render_template(
        "hospitals/detail.html", hospital=hospital, reports=reports, args=args, action=ActionForm()
    ), (200 if reports is not None else 400)


@bp.route("/<int:hospital_id>/edit", methods=["GET", "POST"])
def edit(hospital_id: int):
    hospital = db.get_or_404(Hospital, hospital_id)
    require("hospital.edit")
    form = HospitalForm(hospital=hospital)
    if form.validate_on_submit():
        compare = form_values(form, form.hospital_fields())
        if changed_since_opened(form, hospital):
            explain(form, hospital, compare)
        else:
            form.apply_hospital(hospital)
            if not db.session.is_modified(hospital):
                flash("Nothing was changed.", "info")
                return see_other(".detail", hospital_id=hospital.id)
            if commit_form(form, hospital, compare):
                flash(f"Hospital {hospital.name} ({hospital.code}) was saved.", "success")
                return see_other(".detail", hospital_id=hospital.id)
    return render_template(
        "hospitals/edit.html", form=form, hospital=hospital, regions=regions_in_use()
    ), form_status(form)


def _set_active(hospital_id: int, active: bool):
    hospital = db.get_or_404(Hospital, hospital_id)
    require("hospital.archive")
    form = ActionForm()  # its token was checked by CSRFProtect before this view ran
    if hospital.is_active == active:
        flash(f"{hospital.name} is already {'active' if active else 'archived'}.", "info")
    elif changed_since_opened(form, hospital):
        explain(form, hospital)
        flash(f"{' '.join(form.form_errors)} Check the hospital below, then try again.", "error")
    else:
        hospital.is_active = active
        name = hospital.name
        if commit_form(form, hospital):
            if active:
                flash(f"{name} was restored and takes new reports again.", "success")
            else:
                flash(
                    f"{name} was archived: it is hidden from the list and takes no new reports. "
                    "Restore it from this page at any time.",
                    "success",
                )
        else:
            flash(" ".join(form.form_errors), "error")
    return see_other(".detail", hospital_id=hospital_id)


@bp.post("/<int:hospital_id>/archive")
def archive(hospital_id: int):
    return _set_active(hospital_id, False)


@bp.post("/<int:hospital_id>/restore")
def restore(hospital_id: int):
    return _set_active(hospital_id, True)
