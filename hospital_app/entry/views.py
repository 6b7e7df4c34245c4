"""/entry: the data-entry page, a clerk's day. The hospitals the person reports for, each with
the day's state (to do, or entered by whom and when) and the link to enter or edit its
report; those still to do first. The report form reached from here carries ?entry=1, so that
its "Save and next hospital" goes on to the next one still to do (reports/views.py)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, render_template, request
from flask_login import current_user

from .. import policy, rules
from ..hospitals.queries import regions_in_use
from . import queries
from .forms import EntryArgs

bp = Blueprint("entry", __name__)


def entry_args() -> EntryArgs:
    # Only an administrator reports for hospitals of several regions: an editor's few
    # hospitals need no region filter, nor its query.
    regions = regions_in_use() if current_user.role == "admin" else []
    return EntryArgs(request.args, regions=regions)


@bp.get("/entry")
def index():
    policy.require("report.enter")
    args = entry_args()
    valid = args.validate()
    day = args.day  # today, when ?date= cannot be used
    rows = queries.day_sheet(current_user, day, args.region.data) if valid else None
    return render_template(
        "entry/index.html",
        args=args,
        rows=rows,
        to_do=sum(row.to_do for row in rows or ()),
        previous_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1) if day < rules.today() else None,
    ), (200 if valid else 400)
