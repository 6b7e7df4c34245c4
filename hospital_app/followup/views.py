"""/followup: the reports whose unusual figures were confirmed, who confirmed them, when and
why; a reviewer (of the hospital's region) or an administrator marks each one checked, or
sends it back to the hospital, whose entry page then shows the comment until the report is
edited (report_entry.py reopens it) or checked."""

from __future__ import annotations

from flask import Blueprint, abort, make_response, render_template, request
from flask_login import current_user

from .. import policy, rules
from ..extensions import db
from ..hospitals.queries import regions_in_use
from ..models import FollowUp, utcnow
from ..saving import Outcome, toggle
from ..templating import day
from ..web import flash_toggle, list_status, see_other
from . import queries
from .forms import AnswerForm, FollowUpFilters

bp = Blueprint("followup", __name__)


@bp.get("/followup")
def index():
    filters = FollowUpFilters(request.args, regions_in_use())
    page, counts = None, {}
    if filters.validate():
        args = filters.query()
        page = filters.paginate(queries.listing(**args))
        counts = queries.counts_by_reason(args["status"], args["region"])
    return render_template(
        "followup/index.html",
        filters=filters,
        page=page,
        counts=counts,
        reasons=rules.FOLLOW_UP_REASONS,
        statuses=rules.FOLLOW_UP_STATUSES,
        answer=AnswerForm,
    ), list_status(page)


def _answer(follow_up_id: int, status: str):
    follow_up = db.session.scalar(queries.listing().where(FollowUp.id == follow_up_id))
    if follow_up is None:
        abort(404)
    hospital = follow_up.report.hospital
    action = "followup.check" if status == "checked" else "followup.send_back"
    policy.require(action, hospital)
    form = AnswerForm()
    refusal = None
    if status == "sent back" and form.validate() and not form.comment.data:
        refusal = "Say what the hospital should check: a comment is needed to send it back."

    def apply():
        follow_up.status = status
        follow_up.comment = form.comment.data
        follow_up.reviewer_id = current_user.id
        follow_up.checked_at = utcnow()

    what = f"{hospital.name}'s report of {day(follow_up.report.report_date)}"
    outcome = toggle(
        form, follow_up, already=follow_up.status == status, apply=apply, refusal=refusal
    )
    if outcome in (Outcome.INVALID, Outcome.REFUSED):
        # Bad input (a missing comment, a damaged form): say what, change nothing.
        problem = " ".join(form.form_errors + form.comment.errors)
        page = render_template(
            "errors/error.html",
            code=422,
            title="Not saved",
            message=f"{problem} Nothing was changed.",
        )
        abort(make_response(page, 422))
    done = "marked checked" if status == "checked" else "sent back to the hospital"
    flash_toggle(
        form,
        outcome,
        saved=f"The unusual figures of {what} were {done}.",
        unchanged=f"The unusual figures of {what} were {done} already.",
        conflict_hint="Look at it again before answering.",
    )
    return see_other("followup.index", **_back())


def _back() -> dict:
    """The list's filters the answer was given from (?status=&region=&reason=)."""
    return {k: request.args[k] for k in ("status", "region", "reason") if request.args.get(k)}


@bp.post("/followup/<int:follow_up_id>/check")
def check(follow_up_id: int):
    return _answer(follow_up_id, "checked")


@bp.post("/followup/<int:follow_up_id>/send-back")
def send_back(follow_up_id: int):
    return _answer(follow_up_id, "sent back")
