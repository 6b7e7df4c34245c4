"""A report's earlier versions, read back from its audit trail: what restoring a deleted report
and putting back an earlier version (reports/views.py) write.

Every change to a report leaves an entry (trail.py): a create, restore or delete carries every
audited field, an update or a revert the fields it changed. So the figures a report had after
any entry are the fold of its entries up to that one, and a deleted report's last values are
its delete entry's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from .. import rules
from ..extensions import db
from ..models import AuditEntry
from ..templating import moment

# What a restore or a revert puts back: the report's own values. Not its sign-off (a restored
# or reverted report is provisional: review/) nor the trail's marks of a closed day.
VERSIONED_FIELDS: tuple[str, ...] = (
    "hospital_id",
    *rules.REPORT_FORM_FIELDS,
    "outlier_confirmed",
    "outlier_note",
)
# The entries after which the report existed with figures to put back (the history's buttons).
REVERTIBLE = ("create", "update", "restored", "reverted", "signed off", "reopened")
# The actions whose entry holds every field (the rest hold the changed ones).
WHOLE = {"create": "new", "restored": "new", "delete": "old"}


@dataclass(frozen=True)
class Version:
    entry: AuditEntry  # the entry after which the report had these values
    values: dict[str, Any]  # {field: value}, as the model's attributes take them
    first_saved_at: datetime | None  # when the report was first created (its on-time state)

    @property
    def when(self) -> str:
        """ "28 Nov 2026, 14:05", in the hospitals' time zone, as the trail shows it."""
        return moment(self.entry.created_at)


def _typed(field: str, value: Any) -> Any:
    if field == "report_date" and isinstance(value, str):
        return date.fromisoformat(value)
    return value


def _entries(report_id: int, up_to: int | None = None) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(
        AuditEntry.record_type == "report", AuditEntry.record_id == report_id
    )
    if up_to is not None:
        stmt = stmt.where(AuditEntry.id <= up_to)
    return list(db.session.scalars(stmt.order_by(AuditEntry.id)))


def _fold(entries: list[AuditEntry]) -> tuple[dict[str, Any], datetime | None]:
    values: dict[str, Any] = {}
    first_saved = None
    for entry in entries:
        if entry.action == "create" and first_saved is None:
            first_saved = entry.created_at
        if WHOLE.get(entry.action) is not None:
            values = {}  # a whole snapshot (or the deletion): nothing carries over
        if entry.action == "delete":
            continue
        for field, (_old, new) in (entry.changes or {}).items():
            if field in VERSIONED_FIELDS:
                values[field] = _typed(field, new)
    return values, first_saved


def version_after(report_id: int, entry_id: int) -> Version | None:
    """The report's values just after the entry `entry_id` of its trail; None when that is not
    an entry of this report, or one after which the report did not exist (its deletion)."""
    entries = _entries(report_id, up_to=entry_id)
    if not entries or entries[-1].id != entry_id or entries[-1].action == "delete":
        return None
    values, first_saved = _fold(entries)
    if set(values) != set(VERSIONED_FIELDS):
        return None  # the trail does not hold the whole report (written by an older app)
    return Version(entries[-1], values, first_saved)


def deleted_version(report_id: int) -> Version | None:
    """A deleted report's values as its delete entry recorded them; None unless the report's
    last entry is its deletion."""
    entries = _entries(report_id)
    if not entries or entries[-1].action != "delete":
        return None
    last = entries[-1]
    values = {
        field: _typed(field, old)
        for field, (old, _new) in (last.changes or {}).items()
        if field in VERSIONED_FIELDS
    }
    if set(values) != set(VERSIONED_FIELDS):
        return None
    first_saved = next((e.created_at for e in entries if e.action == "create"), None)
    return Version(last, values, first_saved)
