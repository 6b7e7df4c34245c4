"""The audit trail's pages: the history of a hospital, a report or an account, and /audit,
the whole trail with filters, for administrators."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select
from wtforms import DateField, SelectChoice
from wtforms.validators import Optional, ValidationError

from .. import rules
from ..auth.policy import require
from ..extensions import db
from ..models import AuditEntry, Hospital, HospitalStats, User
from ..web import Choice, PageArgs

bp = Blueprint("audit", __name__)

RECORD_TYPES = {"hospital": "Hospitals", "report": "Statistics reports", "user": "Accounts"}


def _page(stmt, args: PageArgs):
    return args.paginate(stmt.order_by(AuditEntry.id.desc()))


def _history(template: str, stmt, **context):
    args = PageArgs(request.args)
    entries = _page(stmt, args) if args.validate() else None
    return render_template(template, entries=entries, args=args, **context), (
        200 if entries is not None else 400
    )


@bp.get("/hospitals/<int:hospital_id>/history")
def hospital_history(hospital_id: int):
    """The hospital's own changes and those of its reports, deleted ones included."""
    hospital = db.get_or_404(Hospital, hospital_id)
    stmt = select(AuditEntry).where(AuditEntry.hospital_id == hospital.id)
    return _history("audit/hospital.html", stmt, hospital=hospital)


@bp.get("/stats/<int:report_id>/history")
def report_history(report_id: int):
    """Works for a deleted report too: its trail outlives it."""
    stmt = select(AuditEntry).where(
        AuditEntry.record_type == "report", AuditEntry.record_id == report_id
    )
    report = db.session.get(HospitalStats, report_id)
    if report is not None:
        hospital_id = report.hospital_id
    else:
        # Deleted: every entry of a report names its hospital; no entry, no such report.
        hospital_id = db.session.scalar(stmt.with_only_columns(AuditEntry.hospital_id).limit(1))
        if hospital_id is None:
            abort(404)
    hospital = db.session.get(Hospital, hospital_id)
    return _history(
        "audit/report.html", stmt, report=report, report_id=report_id, hospital=hospital
    )


@bp.get("/users/<int:user_id>/history")
def user_history(user_id: int):
    require("users.manage")
    user = db.get_or_404(User, user_id)
    stmt = select(AuditEntry).where(
        AuditEntry.record_type == "user", AuditEntry.record_id == user.id
    )
    return _history("audit/user.html", stmt, user=user)


class AuditFilters(PageArgs):
    """/audit's query string; a GET changes nothing, so no CSRF token."""

    user = Choice("Person", default="")
    record_type = Choice(
        "Record",
        choices=[
            SelectChoice("", "Any record"),
            *(SelectChoice(*kv) for kv in RECORD_TYPES.items()),
        ],
        default="",
    )
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        people = db.session.execute(
            select(User.id, User.display_name, User.email).order_by(User.display_name, User.id)
        )
        self.user.choices = [
            SelectChoice("", "Anyone"),
            *(SelectChoice(str(i), f"{n} ({e})") for i, n, e in people),
        ]

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date is before the start date.")


def _utc_start(day: date) -> datetime:
    """Midnight at the start of `day` in the hospitals' time zone, as naive UTC."""
    # With no TIMEZONE the datetime is naive, and astimezone() reads it as the server's time.
    local = datetime.combine(day, time.min, tzinfo=rules.zone())
    return local.astimezone(UTC).replace(tzinfo=None)


@bp.get("/audit")
def index():
    require("audit.view")
    filters = AuditFilters(request.args)
    entries = None
    if filters.validate():
        stmt = select(AuditEntry)
        if filters.user.data:
            stmt = stmt.where(AuditEntry.user_id == int(filters.user.data))
        if filters.record_type.data:
            stmt = stmt.where(AuditEntry.record_type == filters.record_type.data)
        if filters.date_from.data:
            stmt = stmt.where(AuditEntry.created_at >= _utc_start(filters.date_from.data))
        if filters.date_to.data:
            end = _utc_start(filters.date_to.data + timedelta(days=1))
            stmt = stmt.where(AuditEntry.created_at < end)
        entries = _page(stmt, filters)
    return render_template(
        "audit/index.html", filters=filters, entries=entries, record_types=RECORD_TYPES
    ), (200 if entries is not None else 400)
