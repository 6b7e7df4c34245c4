"""Signing off and reopening reports: the changes themselves, for the views to commit.

- **Sign off**: every report given gets who and when; the reason of an earlier reopening
  goes. Each report's UPDATE carries its version (models.Timestamped), so a report someone
  else signed off or changed since it was read makes the commit fail (StaleDataError): the
  view rolls everything back, and so two reviewers signing off the same day at once end with
  one sign-off.
- **Reopen**: the sign-off goes, the reason stays on the report (and in the audit trail).
- **An administrator's change** to a signed-off report (editors are refused it: policy.py)
  makes it provisional again: it needs signing off anew. Written here once, as an ORM event,
  for every path that changes a report (the form, the grid, the import).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import event, inspect

from .. import rules
from ..models import Account, Report, utcnow

# What a sign-off vouches for: a change to any of these makes the report provisional again.
SIGNED_FIELDS = (*rules.REPORT_FORM_FIELDS, "hospital_id", "outlier_confirmed", "outlier_note")


def sign_off(reports: Iterable[Report], by: Account) -> None:
    now = utcnow()
    for report in reports:
        report.signed_off_by_id = by.id
        report.signed_off_at = now
        report.reopen_reason = None


def reopen(report: Report, reason: str) -> None:
    report.signed_off_by_id = None
    report.signed_off_at = None
    report.reopen_reason = reason


def _provisional_again(_mapper, _connection, report: Report) -> None:
    state = inspect(report)
    if state.attrs.signed_off_at.history.has_changes() or report.signed_off_at is None:
        return  # being signed off or reopened, or not signed off
    if any(state.attrs[name].history.has_changes() for name in SIGNED_FIELDS):
        report.signed_off_by_id = None
        report.signed_off_at = None


def register() -> None:
    """Called by create_app() (idempotent, like the audit trail's registration)."""
    if not event.contains(Report, "before_update", _provisional_again):
        event.listen(Report, "before_update", _provisional_again)
