"""/hospitals: the list, the create form (hospital and first report), details, edit, archive."""

from __future__ import annotations

from flask import Blueprint, flash, render_template, request
from sqlalchemy import func, or_, select

from ..auth.policy import require
from ..conflicts import changed_since_opened, explain, form_values
from ..dashboard.queries import hospital_chart
from ..database import commit_form
from ..extensions import db
from ..models import Hospital, HospitalStats, with_latest_report
from ..web import ActionForm, PageArgs, form_status, see_other
from .forms import HospitalForm, ListFilters, NewHospitalForm, regions_in_use

bp = Blueprint("hospitals", __name__, url_prefix="/hospitals")


def filtered_hospitals(filters: ListFilters):
    """The hospitals `filters` select, in the order they ask for: the list and its CSV export."""
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
        # Already the stored spelling (ListFilters.validate_region): equality uses the index.
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
            select(HospitalStats.beds_occupied * 1.0 / func.nullif(HospitalStats.beds_total, 0))
            .where(HospitalStats.hospital_id == Hospital.id)
            .order_by(HospitalStats.report_date.desc())
            .limit(1)
            .scalar_subquery()
        )
        first = func.coalesce(occupancy, -1).desc() if descending else func.coalesce(occupancy, 2)
        return stmt.order_by(first, Hospital.name, Hospital.id)
    if key == "name":
        return stmt.order_by(*(c.desc() if descending else c for c in (Hospital.name, Hospital.id)))
    column = {"code": Hospital.code, "region": Hospital.region}[key]
    return stmt.order_by(column.desc() if descending else column, Hospital.name, Hospital.id)


@bp.get("")
def index():
    filters = ListFilters(request.args, regions=regions_in_use())
    page = None
    if filters.validate():
        page = filters.paginate(with_latest_report(filtered_hospitals(filters)))
    # The export link carries the filters and sort, not the page: it exports every page.
    export_args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "hospitals/index.html",
        filters=filters,
        page=page,
        export_args=export_args,
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
        "hospitals/detail.html",
        hospital=hospital,
        reports=reports,
        args=args,
        action=ActionForm(),
        chart=hospital_chart(hospital),
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
    form = ActionForm()
    if not form.validate():
        flash(f"{' '.join(form.form_errors)} Nothing was changed.", "error")
    elif hospital.is_active == active:
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
