"""/review: one region's day as a reviewer checks it (every active hospital with its figures,
warnings, on-time state, who entered it and its sign-off), the sign-off of that day, and the
reopening of one hospital's signed-off report with a reason. The policy decides who may
(policy.REVIEW: administrators, and reviewers for their regions)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, render_template, request
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import MultiDict

from .. import policy
from ..extensions import db
from ..saving import Outcome, save
from ..templating import day as shown_day
from ..web import see_other
from . import queries, signoff
from .forms import ReopenForm, ReviewArgs, SignOffForm, seen_text

bp = Blueprint("review", __name__, url_prefix="/review")

CHANGED_MEANWHILE = (
    "Nothing was signed off: some of these reports were signed off or changed by someone "
    "else while you were looking at them. They are shown below as they are now; look at "
    "them again before signing off."
)


def _args(values) -> ReviewArgs:
    regions = queries.reviewable_regions(policy.reviewed_regions(current_user))
    return ReviewArgs(values, regions=regions)


def _page(args: ReviewArgs, valid: bool, form: SignOffForm | None = None, problem=None):
    rows = None
    if valid and args.region.data:
        rows = queries.review_sheet(args.region.data, args.day)
    present = [row.report for row in rows or () if row.report is not None]
    to_sign = [r for r in present if not r.is_signed_off]
    if form is None:
        form = SignOffForm(
            formdata=None,
            date=args.day.isoformat(),
            region=args.region.data,
        )
    form.seen.data = seen_text(to_sign)
    return render_template(
        "review/index.html",
        args=args,
        rows=rows,
        present=present,
        to_sign=to_sign,
        missing=[row.hospital for row in rows or () if row.report is None],
        signed=len(present) - len(to_sign),
        form=form,
        problem=problem,
    )


@bp.get("")
def index():
    policy.require(policy.REVIEW)
    args = _args(request.args)
    valid = args.validate()
    return _page(args, valid), (200 if valid else 400)


@bp.post("/sign-off")
def sign_off():
    policy.require(policy.REVIEW)
    form = SignOffForm()
    args = _args(MultiDict({"date": form.date.data or "", "region": form.region.data or ""}))
    if not form.validate_on_submit() or not args.validate() or not args.region.data:
        abort(400, description="This form cannot be used: reload the review page.")
    region, day = args.region.data, args.day
    refusal = policy.region_refusal(current_user, region)
    if refusal is not None:
        abort(refusal.status, description=refusal.reason)
    reports = queries.to_sign_off(region, day)
    if seen_text(reports) != (form.seen.data or ""):
        return _page(args, True, form, CHANGED_MEANWHILE), 409
    if not reports:
        flash(f"Nothing to sign off in {region} for {shown_day(day)}.", "info")
        return see_other(".index", **args.query())
    missing = queries.missing_count(region, day)
    if missing and not form.confirm_missing.data:
        form.confirm_missing.errors = [
            f"{missing} hospital{'s have' if missing != 1 else ' has'} not reported for "
            f"{shown_day(day)}. Tick the box to sign off the reports present; a report added "
            "later needs signing off on its own."
        ]
        return _page(args, True, form), 422
    signoff.sign_off(reports, current_user)
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        policy.forget_signed_off()
        return _page(args, True, form, CHANGED_MEANWHILE), 409
    flash(
        f"{len(reports)} report{'s' if len(reports) != 1 else ''} of {region} for "
        f"{shown_day(day)} signed off: editors can no longer change "
        f"{'them' if len(reports) != 1 else 'it'}.",
        "success",
    )
    return see_other(".index", **args.query())


@bp.route("/<int:report_id>/reopen", methods=["GET", "POST"])
def reopen(report_id: int):
    report = queries.report_for_review(report_id)
    if report is None:
        abort(404)
    hospital = report.hospital
    policy.require(policy.REVIEW, hospital)
    back = {"date": report.report_date.isoformat(), "region": hospital.region}
    form = ReopenForm()
    if not form.is_submitted():
        form.version.data = report.version
    if not report.is_signed_off:
        flash(
            f"The report of {hospital.name} for {shown_day(report.report_date)} is not signed "
            "off: its editors can change it already.",
            "info",
        )
        return see_other(".index", **back)
    outcome = save(form, report, lambda: signoff.reopen(report, form.reason.data))
    if outcome is Outcome.SAVED:
        flash(
            f"The report of {hospital.name} for {shown_day(report.report_date)} was reopened: "
            "its editors can change it, and it needs signing off again.",
            "success",
        )
        return see_other(".index", **back)
    status = 200 if not form.is_submitted() else (409 if form.conflict else 422)
    return render_template(
        "review/reopen.html", form=form, report=report, hospital=hospital, back=back
    ), status
