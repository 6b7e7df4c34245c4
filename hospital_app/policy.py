"""Who may do what: every authorization decision of the app is made here.

Views call require() before they change anything; templates call can() to show only the
actions a person may take; the CSV import asks refusal() for each hospital and day of its
file. A refusal says why, and is a 403 page, or a 409 when the record's state stands in the way
(an archived hospital) rather than the person's role.

Closed days: asked with the report's day, report.write refuses an editor a day the reporting
settings have closed (cycle.is_closed), unless an exception opens that day for that
hospital now. Every path that writes a report asks so: the forms, the delete, the import's
rows and the data-entry grid. Administrators may still change a closed day; the audit trail
marks their change (audit/trail.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import abort, g
from flask_login import current_user
from sqlalchemy import select

from . import cycle, rules
from .extensions import db
from .models import Account, Hospital, hospital_editors

ADMIN_ONLY = {
    "hospital.create": "Only administrators can register hospitals.",
    "hospital.edit": "Only administrators can change a hospital's details.",
    "hospital.archive": "Only administrators can archive or restore hospitals.",
    "account.manage": "Only administrators can manage accounts.",
    "audit.view": "Only administrators can see the whole audit trail.",
    "reminder.view": "Only administrators can see the email reminders sent to editors.",
    "settings.manage": "Only administrators can change the reporting settings.",
}
READ_ONLY = "Your account can see reports but not change them."
# Importing is checked twice: the page is for editors and administrators, and each row's
# hospital is then checked like a report written through the form (report.write). So is data
# entry: the page (report.enter) lists only the hospitals the person may write reports for.
REPORTERS_ONLY = {"report.import", "report.enter"}
ACTIONS = {*ADMIN_ONLY, *REPORTERS_ONLY, "report.write"}


@dataclass(frozen=True)
class Refusal:
    reason: str
    status: int = 403


class _CommandLine:
    """Whoever runs a `flask` command on the server. They can reach the database itself, so
    the roles do not apply to them; the state of a record (an archived hospital) does."""

    is_authenticated = True
    role = "admin"
    id = None


COMMAND_LINE = _CommandLine()


def assigned_hospital_ids(user: Account) -> frozenset[int]:
    """The hospitals an editor is assigned to, read once per request."""
    cache = g.setdefault("_assigned_hospital_ids", {})
    if user.id not in cache:
        cache[user.id] = frozenset(
            db.session.scalars(
                select(hospital_editors.c.hospital_id).where(hospital_editors.c.user_id == user.id)
            )
        )
    return cache[user.id]


def _report_refusal(user, hospital: Hospital | None, day: date | None) -> Refusal | None:
    """May `user` add, change or delete the reports of `hospital` (for `day`, when given)?"""
    if user.role == "editor" and (
        hospital is None or hospital.id not in assigned_hospital_ids(user)
    ):
        name = hospital.name if hospital is not None else "this hospital"
        return Refusal(
            f"You can change reports only for the hospitals assigned to you, and {name} "
            "is not one of them. Ask an administrator to assign it to you."
        )
    if hospital is not None and not hospital.is_active:
        # The same for everyone: an archived hospital's figures stay as they were archived.
        who = "Restore it first" if user.role == "admin" else "An administrator can restore it"
        return Refusal(
            f"{hospital.name} ({hospital.code}) is archived, so its reports cannot be added, "
            f"changed or deleted. {who} if it reports again.",
            status=409,
        )
    if day is not None and user.role != "admin":
        return _closed_refusal(user, hospital, day)
    return None


def closing_rule() -> str:
    """The closing setting in words, for the messages: "a day closes for editors 7 days after
    it ends". Day D ends at midnight; with 7, D is still open 7 days later and closed on the
    8th (cycle.is_closed)."""
    after = cycle.settings().close_after_days
    if after is None:
        return "days never close"
    if after == 0:
        return "a day closes for editors as soon as it ends"
    return f"a day closes for editors {after} day{'s' if after != 1 else ''} after it ends"


def closed_message(day: date, hospital: Hospital | None = None) -> str:
    """Why an editor may not write `day`'s reports: the rule, and who can open the day."""
    whom = f" for {hospital.name}" if hospital is not None else " for a hospital"
    return (
        f"Reports for {rules.day_text(day)} are closed: {closing_rule()} (reporting "
        f"settings). An administrator can open the day again{whom}."
    )


def _closed_refusal(user, hospital: Hospital | None, day: date) -> Refusal | None:
    if not cycle.is_closed(day, cycle.settings()):
        return None
    # One query for the exceptions of all the editor's hospitals, whatever the rows asked.
    cycle.load_openings(assigned_hospital_ids(user))
    if hospital is not None and cycle.opening(hospital.id, day) is not None:
        return None  # an administrator opened it for this hospital, until the exception ends
    return Refusal(closed_message(day, hospital))


def refusal(
    user, action: str, hospital: Hospital | None = None, day: date | None = None
) -> Refusal | None:
    """Why `user` may not do `action` (to `hospital`, for the reports of `day`); None when
    they may. Without `day`, report.write answers for the hospital's open days."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if not user.is_authenticated:
        return Refusal("Sign in first.")
    if action in ADMIN_ONLY:
        return None if user.role == "admin" else Refusal(ADMIN_ONLY[action])
    if user.role not in ("admin", "editor"):
        return Refusal(READ_ONLY)
    if action in REPORTERS_ONLY:
        return None
    return _report_refusal(user, hospital, day)


def can(action: str, hospital: Hospital | None = None, day: date | None = None) -> bool:
    return refusal(current_user, action, hospital, day) is None


def require(action: str, hospital: Hospital | None = None, day: date | None = None) -> None:
    """Stop the request with a 403 (or 409) that says why, before anything is changed."""
    found = refusal(current_user, action, hospital, day)
    if found is not None:
        abort(found.status, description=found.reason)
