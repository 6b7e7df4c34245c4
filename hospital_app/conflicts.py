"""Edits that never overwrite someone else's work.

Every edit form (and every archive, restore, delete or (de)activate button) carries the
version of the record it was opened at. When it comes back and the record has moved on,
nothing is written: the form is shown again (409) saying who changed the record and when,
with their values beside the person's own, and it now carries the new version, so saving
again applies the person's values knowingly.

Two checks make this hold however requests interleave: the version sent back is compared
with the stored one before anything is changed, and the UPDATE itself says "AND version =
<the one loaded>" (version_id_col on the models), so a save that lands between the two is
caught at commit, on every database and every worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm.exc import ObjectDeletedError
from wtforms import HiddenField

from .extensions import db
from .models import AuditEntry, Hospital, HospitalStats, User
from .templating import moment  # the time as the pages show it

RECORD_TYPES = {Hospital: "hospital", HospitalStats: "report", User: "user"}
KINDS = {"hospital": "hospital", "report": "report", "user": "account"}


class VersionField(HiddenField):
    """The version of the record when the form was opened. Empty on forms that create."""

    def process_formdata(self, valuelist):
        raw = valuelist[0].strip() if valuelist else ""
        try:
            self.data = int(raw) if raw else None
        except ValueError:
            self.data = None
            raise ValueError("This form was damaged in transit: reload the page.") from None

    def _value(self) -> str:
        return "" if self.data is None else str(self.data)


@dataclass
class Difference:
    label: str
    theirs: object
    yours: object


@dataclass
class Conflict:
    """What the person needs to decide: who changed the record, when, and how it differs."""

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


def changed_since_opened(form, record) -> bool:
    """The form came back from an older version of `record` than the one stored now.

    A form without a version (sent by something other than our pages) is checked only by
    the UPDATE's own version condition."""
    sent = form.version.data
    return sent is not None and sent != record.version


def explain(form, record, compare=()) -> Conflict:
    """Turn `form` into the 409 answer for `record`, which someone else changed or deleted
    since the form was opened. `compare` is [(label, stored value getter, your value)].

    Call it after the rollback (commit_form does it) or before any change: the record's
    attributes then read what is stored now."""
    if record is None:  # a form that names no record: say what we know
        form.conflict = Conflict(None, None)
        form.form_errors.append(
            "Someone else changed this record while you were editing it, so nothing was "
            "saved. Open it again to see their changes, then re-apply yours."
        )
        return form.conflict
    record_type = RECORD_TYPES[type(record)]
    record_id = db.inspect(record).identity[0]
    try:
        differences = [
            Difference(label, theirs, yours)
            for label, read, yours in compare
            if (theirs := read(record)) != yours
        ]
        form.version.data = record.version
        deleted = False
    except ObjectDeletedError:
        differences, deleted = [], True
    entry = last_change(record_type, record_id)
    conflict = Conflict(
        entry.actor if entry else None,
        entry.created_at if entry else None,
        deleted=deleted,
        differences=differences,
    )
    form.conflict = conflict
    form.form_errors.append(message(conflict, KINDS[record_type]))
    return conflict


def message(conflict: Conflict, kind: str) -> str:
    who = conflict.actor or "Someone else"
    when = f" at {moment(conflict.at)}" if conflict.at else ""
    if conflict.deleted:
        return f"{who} deleted this {kind}{when}, after you opened it, so nothing was saved."
    return f"{who} changed this {kind}{when}, after you opened it, so nothing was saved. " + (
        "Their values are beside yours below: check them, then save again to apply yours."
        if conflict.differences
        else "Their values are the ones you entered; nothing else differs."
    )


def form_values(form, fields) -> list:
    """[(label, getter of the stored value, value in the form)] for plain column fields."""
    return [(f.label.text, _getter(f.name), f.data) for f in fields]


def _getter(name: str):
    return lambda record: getattr(record, name)
