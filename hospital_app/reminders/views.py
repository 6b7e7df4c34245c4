"""/reminders: for administrators, what the send-reminders command sent, day by day, and each
reminder of the latest day (or of ?date=): who, which hospitals, how it went."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from .. import rules
from ..policy import require
from . import queries

bp = Blueprint("reminders", __name__)


@bp.get("/reminders")
def index():
    require("reminder.view")
    days = queries.last_days()
    try:
        day = rules.parse_report_date(request.args.get("date"))
    except ValueError as error:
        return render_template("reminders/index.html", days=days, error=str(error)), 400
    if day is None and days:
        day = days[0].day
    rows = queries.of_day(day) if day else []
    return render_template("reminders/index.html", days=days, day=day, rows=rows)
