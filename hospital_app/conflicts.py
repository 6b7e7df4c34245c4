"""Edits that never overwrite someone else's work: what a conflict is, as data.

Every edit form (and every archive, restore, delete or (de)activate button) carries the
version of the record it was opened at. When it comes back and the record has moved on,
nothing is written: the form is shown again (409) saying who changed the record and when,
with their values beside the person's own, and it now carries the new version, so saving
again applies the person's values knowingly. saving.py runs that sequence; this module says
what happened, and the page (templating.conflict_message) puts it into words.

Two checks make this hold however requests interleave: the version sent back is compared
with the stored one before anything is changed, and the UPDATE itself says "AND version =
<the one loaded>" (version_id_col on the models), so a save that lands between the two is
caught at commit, on every database and every worker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import inspect, select
from sqlalchemy.orm.exc import ObjectDeletedError

from .extensions import db
from .models import (
    Account,
    AuditEntry,
    ClosingException,
    FollowUp,
    Hospital,
    Report,
    ReportingSettings,
)

RECORD_TYPES = {
    Hospital: "hospital",
    Report: "report",
    Account: "account",
    ReportingSettings: "settings",
    ClosingException: "exception",
    FollowUp: "follow-up",
}
# How a conflict's message names a kind of record ("changed this …"), when not by its type.
KINDS = {"settings": "reporting cycle"}

# (label, how to read the stored value from the record, the value in the form)
Compared = tuple[str, Callable[[object], object], object]


@dataclass
class Difference:
    label: str
    theirs: object
    yours: object


@dataclass
class Conflict:
    """What the person needs to decide: which kind of record, who changed it and when, and
    how it differs from their form. `actor` and `at` are None when nobody can be named (a
    change made outside the app)."""

    kind: str
    actor: str | None
    at: datetime | None
    deleted: bool = False
    differences: list[Difference] = field(default_factory=list)


def last_change(record_type: str, record_id: int) -> AuditEntry | None:
    """The trail's newest change to the record. Its creation is not a change: a record
    changed only outside the app (raw SQL) has none, and nobody is named."""
    return db.session.scalar(
        select(AuditEntry)
        .where(
            AuditEntry.record_type == record_type,
            AuditEntry.record_id == record_id,
            AuditEntry.action != "create",
        )
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )


def changed_since_opened(sent_version: int | None, record) -> bool:
    """The form came back from an older version of `record` than the one stored now.

    A form without a version (sent by something other than our pages) is checked only by
    the UPDATE's own version condition."""
    return sent_version is not None and sent_version != record.version


def explain(record, compare: Sequence[Compared] = ()) -> Conflict:
    """The conflict over `record`, which someone else changed or deleted since the form was
    opened, with the `compare` values that differ.

    Call it after the rollback (saving.py does) or before any change: the record's attributes
    then read what is stored now."""
    record_type = RECORD_TYPES[type(record)]
    record_id = inspect(record).identity[0]
    try:
        differences = [
            Difference(label, theirs, yours)
            for label, read, yours in compare
            if (theirs := read(record)) != yours
        ]
        deleted = False
    except ObjectDeletedError:
        differences, deleted = [], True
    entry = last_change(record_type, record_id)
    return Conflict(
        kind=KINDS.get(record_type, record_type),
        actor=entry.actor if entry else None,
        at=entry.created_at if entry else None,
        deleted=deleted,
        differences=differences,
    )
