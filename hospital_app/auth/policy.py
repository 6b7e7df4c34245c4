"""Who may do what: every authorization decision of the app is made here.

Views call require() before they change anything; templates call can() to show only the
actions a person may take. A refusal is a 403 page that says why.
"""

from __future__ import annotations

from flask import abort, g
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..models import Hospital, User, hospital_editors

ADMIN_ONLY = {
    "hospital.create": "Only administrators can register hospitals.",
    "hospital.edit": "Only administrators can change a hospital's details.",
    "hospital.archive": "Only administrators can archive or restore hospitals.",
    "users.manage": "Only administrators can manage accounts.",
    "audit.view": "Only administrators can see the whole audit trail.",
}
READ_ONLY = "Your account can see statistics but not change them."
# Importing is checked twice: the page is for editors and administrators, and each row's
# hospital is then checked like a report written through the form (report.write).
ACTIONS = {*ADMIN_ONLY, "report.write", "stats.import"}


def assigned_hospital_ids(user: User) -> frozenset[int]:
    """The hospitals an editor is assigned to, read once per request."""
    cache = g.setdefault("_assigned_hospital_ids", {})
    if user.id not in cache:
        cache[user.id] = frozenset(
            db.session.scalars(
                select(hospital_editors.c.hospital_id).where(hospital_editors.c.user_id == user.id)
            )
        )
    return cache[user.id]


def refusal(user, action: str, hospital: Hospital | None = None) -> str | None:
    """Why `user` may not do `action` (to `hospital`); None when they may."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if not user.is_authenticated:
        return "Sign in first."
    if user.role == "admin":
        return None
    if action in ADMIN_ONLY:
        return ADMIN_ONLY[action]
    if user.role != "editor":
        return READ_ONLY
    if action == "stats.import":
        return None
    # report.write
    if hospital is None or hospital.id not in assigned_hospital_ids(user):
        name = hospital.name if hospital is not None else "this hospital"
        return (
            f"You can change statistics only for the hospitals assigned to you, and {name} "
            "is not one of them. Ask an administrator to assign it to you."
        )
    if not hospital.is_active:
        return f"{hospital.name} is archived: only an administrator can change its statistics."
    return None


def can(action: str, hospital: Hospital | None = None) -> bool:
    return refusal(current_user, action, hospital) is None


def require(action: str, hospital: Hospital | None = None) -> None:
    """Stop the request with a 403 that says why, before anything is changed."""
    reason = refusal(current_user, action, hospital)
    if reason is not None:
        abort(403, description=reason)
