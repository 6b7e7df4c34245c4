"""/audit's query string."""

from __future__ import annotations

from sqlalchemy import select
from wtforms import SelectChoice
from wtforms.validators import Optional, ValidationError

from ..extensions import db
from ..models import Account
from ..report_entry import ReportDateField
from ..web import Choice, PageArgs
from . import queries
from .trail import ACTIONS

RECORD_TYPES = {
    "hospital": "Hospitals",
    "report": "Reports",
    "account": "Accounts",
    "settings": "Reporting settings",
    "exception": "Exceptions to closing",
}


class AuditFilters(PageArgs):
    user = Choice("Person", default="")
    record_type = Choice(
        "Record",
        choices=[
            SelectChoice("", "Any record"),
            *(SelectChoice(*kv) for kv in RECORD_TYPES.items()),
        ],
        default="",
    )
    hospital = Choice("Hospital", default="")
    action = Choice(
        "Action",
        choices=[
            SelectChoice("", "Any action"),
            *(SelectChoice(*kv) for kv in ACTIONS.items()),
        ],
        default="",
    )
    # The rules' date reader: its format, its message and every date's range.
    date_from = ReportDateField("From", validators=[Optional()])
    date_to = ReportDateField("To", validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        people = db.session.execute(
            select(Account.id, Account.display_name, Account.email).order_by(
                Account.display_name, Account.id
            )
        )
        self.user.choices = [
            SelectChoice("", "Anyone"),
            *(SelectChoice(str(i), f"{n} ({e})") for i, n, e in people),
        ]
        self.hospital.choices = [
            SelectChoice("", "Any hospital"),
            *(SelectChoice(str(i), f"{c} — {n}") for i, c, n in queries.hospital_choices()),
        ]

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date is before the start date.")
