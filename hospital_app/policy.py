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

Signed-off reports: asked with the report's day, report.write refuses an editor a report a
reviewer (or an administrator) has signed off, on every path that asks with the day, until
someone reopens it (report.review). An administrator may still change it; the change makes
it provisional again (review/signoff.py), to be signed off anew.

Reviewers (role "reviewer") see what viewers see, type no figure (report.write, .enter and
.import refuse them) and review, sign off and reopen the reports of the hospitals of their
regions (reviews(); all regions for an account with all_regions). Administrators review all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import abort, g
from flask_login import current_user
from sqlalchemy import select

from . import cycle, rules
from .extensions import db
from .models import Account, AccountRegion, Hospital, Report, hospital_editors

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
REVIEWERS_TYPE_NONE = (
    "Reviewers check and sign off reports but do not type figures: the hospital's editors do."
)
REVIEW = "report.review"
NOT_A_REVIEWER = "Only reviewers and administrators review and sign off reports."
# Importing is checked twice: the page is for editors and administrators, and each row's
# hospital is then checked like a report written through the form (report.write). So is data
# entry: the page (report.enter) lists only the hospitals the person may write reports for.
REPORTERS_ONLY = {"report.import", "report.enter"}
# From a report's history: bring back a deleted report, put back an earlier version.
HISTORY_ACTIONS = {"report.restore", "report.revert"}
NOT_FOR_HISTORY = (
    "Only reviewers and administrators can restore a report or put back an earlier version."
)
# The follow-up of confirmed unusual figures: mark one checked, or send it back to the hospital.
FOLLOW_UP_ACTIONS = {"followup.check", "followup.send_back"}
NOT_FOR_FOLLOW_UP = "Only reviewers and administrators follow up unusual figures."
ACTIONS = {*ADMIN_ONLY, *REPORTERS_ONLY, "report.write", REVIEW, *HISTORY_ACTIONS}
ACTIONS |= FOLLOW_UP_ACTIONS


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


def reviewed_regions(user) -> frozenset[str] | None:
    """The regions `user` reviews: None for all of them (administrators, and reviewers of
    all regions), else a set, empty for those who review none. Read once per request."""
    if user.role == "admin":
        return None
    if user.role != "reviewer":
        return frozenset()
    if user.all_regions:
        return None
    cache = g.setdefault("_reviewed_regions", {})
    if user.id not in cache:
        cache[user.id] = frozenset(
            db.session.scalars(select(AccountRegion.region).where(AccountRegion.user_id == user.id))
        )
    return cache[user.id]


def reviews_region(user, region: str) -> bool:
    regions = reviewed_regions(user)
    return regions is None or region in regions


def reviews(user, hospital: Hospital) -> bool:
    """May `user` review, sign off and reopen `hospital`'s reports? Administrators: every
    hospital; reviewers: the hospitals of their regions."""
    return user.is_authenticated and reviews_region(user, hospital.region)


def _review_refusal(user, hospital: Hospital | None) -> Refusal | None:
    if user.role not in ("admin", "reviewer"):
        return Refusal(NOT_A_REVIEWER)
    if hospital is not None and not reviews(user, hospital):
        return Refusal(
            f"{hospital.name} is in the region {hospital.region}, which you do not review. "
            "An administrator can give you that region."
        )
    return None


def region_refusal(user, region: str) -> Refusal | None:
    """May `user` review and sign off the reports of `region`?"""
    found = refusal(user, REVIEW)
    if found is None and not reviews_region(user, region):
        found = Refusal(
            f"You do not review the region {region}. An administrator can give it to you."
        )
    return found


def signed_off_days(hospital_ids) -> dict[int, dict[date, tuple[str, object]]]:
    """{hospital id: {day: (who signed it off, when)}} of the signed-off reports of
    `hospital_ids`, in one query for those not read yet in this request (an import asks about
    many days of an editor's hospitals)."""
    cache = g.setdefault("_signed_off_days", {})
    wanted = sorted(set(hospital_ids) - cache.keys())
    if wanted:
        found: dict[int, dict] = {hospital_id: {} for hospital_id in wanted}
        rows = db.session.execute(
            select(
                Report.hospital_id, Report.report_date, Account.display_name, Report.signed_off_at
            )
            .join(Account, Account.id == Report.signed_off_by_id)
            .where(Report.hospital_id.in_(wanted), Report.signed_off_at.is_not(None))
        )
        for hospital_id, day, name, at in rows:
            found[hospital_id][day] = (name, at)
        cache.update(found)
    return cache


def forget_signed_off() -> None:
    """After a sign-off or a reopening: the rest of the request reads them again."""
    g.pop("_signed_off_days", None)


def signed_off_message(hospital: Hospital, day: date, name: str, at) -> str:
    return (
        f"The report of {hospital.name} for {rules.day_text(day)} was signed off by {name} "
        f"on {rules.day_text(at)}, so it cannot be changed or deleted; a reviewer can reopen "
        "it."
    )


def _signed_off_refusal(user, hospital: Hospital, day: date) -> Refusal | None:
    signed = signed_off_days(assigned_hospital_ids(user) | {hospital.id})[hospital.id].get(day)
    if signed is None:
        return None
    return Refusal(signed_off_message(hospital, day, *signed))


def _archived_refusal(user, hospital: Hospital | None) -> Refusal | None:
    if hospital is None or hospital.is_active:
        return None
    # The same for everyone: an archived hospital's figures stay as they were archived.
    who = "Restore it first" if user.role == "admin" else "An administrator can restore it"
    return Refusal(
        f"{hospital.name} ({hospital.code}) is archived, so its reports cannot be added, "
        f"changed or deleted. {who} if it reports again.",
        status=409,
    )


def _history_refusal(user, hospital: Hospital | None, day: date | None) -> Refusal | None:
    """May `user` restore a deleted report of `hospital` for `day`, or put back an earlier
    version of one? Reviewers (of its region) and administrators, on an active hospital; a
    reviewer not on a closed day nor over a signed-off report (reopen it first), which only
    administrators may change."""
    if user.role not in ("admin", "reviewer"):
        return Refusal(NOT_FOR_HISTORY)
    if (found := _review_refusal(user, hospital)) is not None:
        return found
    if (archived := _archived_refusal(user, hospital)) is not None:
        return archived
    if day is None or user.role == "admin":
        return None
    if hospital is not None and (signed := _signed_off_refusal(user, hospital, day)):
        return signed
    if cycle.is_closed(day, cycle.settings()):
        return Refusal(closed_message(day, hospital))
    return None


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
    if (archived := _archived_refusal(user, hospital)) is not None:
        return archived
    if day is not None and user.role != "admin":
        if hospital is not None and (signed := _signed_off_refusal(user, hospital, day)):
            return signed
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
    if action == REVIEW:
        return _review_refusal(user, hospital)
    if action in HISTORY_ACTIONS:
        return _history_refusal(user, hospital, day)
    if action in FOLLOW_UP_ACTIONS:
        if user.role not in ("admin", "reviewer"):
            return Refusal(NOT_FOR_FOLLOW_UP)
        return _review_refusal(user, hospital)
    if user.role == "reviewer":
        return Refusal(REVIEWERS_TYPE_NONE)
    if user.role not in ("admin", "editor"):
        return Refusal(READ_ONLY)
    if action in REPORTERS_ONLY:
        return None
    return _report_refusal(user, hospital, day)


def _user():
    """The signed-in account itself, not the proxy: every attribute read through
    flask_login's current_user looks the user up again, and a page asks can() per row."""
    return current_user._get_current_object()


def can(action: str, hospital: Hospital | None = None, day: date | None = None) -> bool:
    return refusal(_user(), action, hospital, day) is None


def require(action: str, hospital: Hospital | None = None, day: date | None = None) -> None:
    """Stop the request with a 403 (or 409) that says why, before anything is changed."""
    found = refusal(_user(), action, hospital, day)
    if found is not None:
        abort(found.status, description=found.reason)
