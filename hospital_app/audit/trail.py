"""The audit trail, written by one mechanism: a session event after every flush.

Whatever a view, a command or a test changes through the ORM, the rows describing it are
inserted on the same connection, in the same transaction, right after the change itself was
sent. They are committed together or rolled back together; no view writes audit rows.
create_app() turns it on with register().

A person's change to a report of a closed day (cycle.is_closed at that moment) is marked:
"closed_day", and for an editor the exception that opened the day, "closed_day_exception"
(its id). Changes no one made at a screen (seeding, factories, commands) are not marked: the
closing rule is about people's roles (policy.py), which the command line is outside of.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from flask import g, has_app_context, has_request_context
from flask_login import current_user
from flask_sqlalchemy.session import Session
from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import object_session
from sqlalchemy.orm.util import identity_key

from .. import cycle, rules
from ..models import (
    Account,
    AuditEntry,
    ClosingException,
    FollowUp,
    Hospital,
    Report,
    ReportingSettings,
    utcnow,
)

PASSWORD_CHANGED = "(changed)"  # noqa: S105 (what the trail shows instead of a hash)
PASSWORD_SET = "(set)"  # noqa: S105


@dataclass(frozen=True)
class Audited:
    record_type: str
    fields: tuple[str, ...]
    toggles: tuple[str, str] | None  # actions for is_active False / True when only it changed

    def label(self, obj) -> str:
        if isinstance(obj, Hospital):
            return f"{obj.code} {obj.name}"
        if isinstance(obj, Report):
            return report_label(obj.report_date)
        if isinstance(obj, ReportingSettings):
            return "Reporting settings"
        if isinstance(obj, ClosingException):
            return exception_label(obj)
        if isinstance(obj, FollowUp):
            return f"follow-up of report {obj.report_id or 'new'}"
        return obj.email

    @staticmethod
    def hospital_id(obj) -> int | None:
        if isinstance(obj, Hospital):
            return obj.id
        if isinstance(obj, Report | ClosingException):
            return obj.hospital_id
        if isinstance(obj, FollowUp):
            report = inspect(obj).attrs.report.loaded_value
            return report.hospital_id if isinstance(report, Report) else None
        return None


def report_label(report_date: date) -> str:
    return f"report of {report_date.isoformat()}"


def day_range_text(first: date, last: date) -> str:
    """A range of days as people read it: "1–7 Nov 2026", "28 Oct – 3 Nov 2026"."""
    if first == last:
        return rules.day_text(first)
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{rules.day_text(last)}"
    if first.year == last.year:
        return f"{first.day} {first:%b} – {rules.day_text(last)}"
    return f"{rules.day_text(first)} – {rules.day_text(last)}"


def exception_label(obj: ClosingException) -> str:
    """ "Exception for NRH-001, 1–7 Nov 2026". The hospital is read only if it is loaded
    already (the relationship raises rather than query during a flush)."""
    hospital = inspect(obj).attrs.hospital.loaded_value
    if not isinstance(hospital, Hospital) and (session := object_session(obj)) is not None:
        hospital = session.identity_map.get(identity_key(Hospital, obj.hospital_id))
    who = hospital.code if isinstance(hospital, Hospital) else f"hospital {obj.hospital_id}"
    return f"Exception for {who}, {day_range_text(obj.date_from, obj.date_to)}"


# Each record's fields in the order its form shows them, which is also the order the trail
# lists a change's fields in; what no form shows comes last.
AUDITED: dict[type, Audited] = {
    Hospital: Audited(
        "hospital",
        ("code", "name", "region", "city", "ownership", "is_active"),
        ("archive", "restore"),
    ),
    Report: Audited(
        "report",
        (
            "hospital_id",
            *rules.REPORT_FORM_FIELDS,
            "outlier_confirmed",
            "outlier_note",
            "signed_off_by_id",
            "signed_off_at",
            "reopen_reason",
        ),
        None,
    ),
    # password_hash is special-cased: the trail says the password changed, never the hash.
    Account: Audited(
        "account",
        (
            "email",
            "display_name",
            "role",
            "hospitals",
            "all_regions",
            "regions",
            "is_active",
            "password_hash",
        ),
        ("deactivate", "activate"),
    ),
    # Why unusual figures were confirmed, and the reviewer's check or sending back.
    FollowUp: Audited("follow-up", ("reason", "note", "status", "comment"), None),
    ReportingSettings: Audited(
        "settings", ("deadline_time", "deadline_day_offset", "close_after_days"), None
    ),
    ClosingException: Audited(
        "exception",
        ("hospital_id", "date_from", "date_to", "ends_at", "reason", "ended_at"),
        None,
    ),
}

# Every action the trail writes, as /audit's filter offers them.
ACTIONS: dict[str, str] = {
    "create": "Create",
    "update": "Edit",
    "delete": "Delete",
    "archive": "Archive",
    "restore": "Restore",
    "deactivate": "Deactivate",
    "activate": "Activate",
    "password": "New password",
    "unblock": "Unblock sign-in",
    "signed off": "Sign off",
    "reopened": "Reopen",
    # A deleted report brought back, an earlier version put back (reports/views.py).
    "restored": "Restored",
    "reverted": "Reverted",
}
# A change to a report of these fields alone is its sign-off, or its reopening (review/).
SIGN_OFF_FIELDS = frozenset({"signed_off_by_id", "signed_off_at", "reopen_reason"})

_ORDER: dict[str, dict[str, int]] = {
    spec.record_type: {
        ("password" if name == "password_hash" else name): i for i, name in enumerate(spec.fields)
    }
    for spec in AUDITED.values()
}


def ordered_changes(entry: AuditEntry) -> list[tuple[str, Any, Any]]:
    """(field, old, new) of an entry, in the order of the record's form; a field the trail no
    longer writes (from an older version of the app) comes last, by name."""
    order = _ORDER.get(entry.record_type, {})
    names = sorted(entry.changes or {}, key=lambda n: (order.get(n, len(order)), n))
    return [(name, *entry.changes[name]) for name in names]


# Values stored as they are (most of a report's): the type checks below are skipped.
_AS_THEY_ARE = frozenset({int, str, bool, type(None)})


def _plain(value: Any) -> Any:
    if type(value) in _AS_THEY_ARE:
        return value
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, Hospital):
        return value.code
    return value


def _value(obj, field: str) -> Any:
    if field == "hospitals":
        return sorted(h.code for h in obj.hospitals)
    if field == "regions":
        return obj.regions
    return _plain(getattr(obj, field))


def _changes(obj, spec: Audited) -> dict[str, list]:
    """{field: [old, new]} of what this flush changed in `obj`."""
    state = inspect(obj)
    changes = {}
    for field in spec.fields:
        if field == "regions":
            history = state.attrs.region_rows.history
            kept = list(history.unchanged)
            old = sorted(r.region for r in kept + list(history.deleted))
            new = sorted(r.region for r in kept + list(history.added))
            if old != new:
                changes[field] = [old, new]
            continue
        history = state.attrs[field].history
        if not history.has_changes():
            continue
        if field == "password_hash":
            changes["password"] = [None, PASSWORD_CHANGED]
        elif field == "hospitals":
            kept = list(history.unchanged)
            old = sorted(h.code for h in kept + list(history.deleted))
            new = sorted(h.code for h in kept + list(history.added))
            if old != new:
                changes[field] = [old, new]
        else:
            old = _plain(history.deleted[0]) if history.deleted else None
            new = _plain(history.added[0]) if history.added else None
            if old != new:
                changes[field] = [old, new]
    return changes


def _snapshot(obj, spec: Audited, new: bool) -> dict[str, list]:
    return _snapshot_of(spec, lambda field: _value(obj, field), new)


def _snapshot_of(spec: Audited, value_of, new: bool) -> dict[str, list]:
    """A new or deleted record's fields, each read by value_of(field) (plain values)."""
    changes = {}
    for field in spec.fields:
        if field == "password_hash":
            if new:
                changes["password"] = [None, PASSWORD_SET]
            continue
        value = value_of(field)
        if field in _ONLY_WHEN_SET and not value:
            continue  # a reviewer's or a sign-off's fields, on records that have none
        changes[field] = [None, value] if new else [value, None]
    return changes


_ONLY_WHEN_SET = SIGN_OFF_FIELDS | {"all_regions", "regions"}


def actor() -> tuple[int | None, str]:
    """(user id, how to name them) of whoever is making the current change."""
    if has_request_context() and current_user.is_authenticated:
        return current_user.id, f"{current_user.display_name} <{current_user.email}>"
    if has_app_context() and "audit_actor" in g:
        return None, g.audit_actor
    return None, "system"


def _entry(obj, spec: Audited, action: str, changes: dict) -> dict:
    return {
        "action": action,
        "record_type": spec.record_type,
        "record_id": obj.id,
        "record_label": spec.label(obj)[:300],
        "hospital_id": spec.hospital_id(obj),
        "changes": changes,
    }


def _by_a_person() -> bool:
    return has_request_context() and current_user.is_authenticated


def _closed_day_marks(session, report: Report, action: str) -> dict[str, list]:
    """The marks of a person's change to a report of a closed day (see the module's doc):
    the days it had and has, either of them closed."""
    if not _by_a_person():
        return {}
    days = {report.report_date}
    if action == "update":
        days.update(inspect(report).attrs.report_date.history.deleted)
    return _closed_day_marks_of(session.connection(), report.hospital_id, days, action)


def _closed_day_marks_of(
    connection, hospital_id: int, days: set, action: str, today: date | None = None
) -> dict[str, list]:
    settings = cycle.settings(connection)
    closed = sorted(d for d in days if d is not None and cycle.is_closed(d, settings, today))
    if not closed:
        return {}
    # A deleted record's values are shown as they were (old), a new one's as they are (new).
    marks = {"closed_day": [True, None] if action == "delete" else [None, True]}
    if current_user.role != "admin":
        opened = cycle.opening(hospital_id, closed[0], connection)
        if opened is not None:
            mark = [opened.id, None] if action == "delete" else [None, opened.id]
            marks["closed_day_exception"] = mark
    return marks


def record(session, obj, action: str) -> None:
    """An entry for an action that changes none of the record's own columns (an
    administrator ending the pause of an account's sign-in): written like the others, on
    the session's connection, so it is committed or rolled back with the action."""
    user_id, name = actor()
    entry = _entry(obj, AUDITED[type(obj)], action, {})
    entry.update(user_id=user_id, actor=name[:400], created_at=utcnow())
    session.connection().execute(insert(AuditEntry), [entry])


MARK = "_audit_as"


def mark_as(obj, action: str, **extra: Any) -> None:
    """Have the next flush record `obj`'s change as `action` ("restored", "reverted"), with
    `extra` fields shown as set: {name: value} (e.g. reverted_to, the version put back)."""
    obj.__dict__[MARK] = (action, {name: [None, value] for name, value in extra.items()})


def register() -> None:
    """Write the trail after every flush of every session (once, however often it is called:
    each test builds its own app)."""
    if not event.contains(Session, "after_flush", write_audit_entries):
        event.listen(Session, "after_flush", write_audit_entries)


def write_audit_entries(session, _flush_context) -> None:
    # In after_flush the session still lists what was new, changed and deleted, with each
    # attribute's history, and every new row has its id.
    entries = []

    def add(obj, spec: Audited, action: str, changes: dict) -> None:
        # What the change is, when it is more than a create or an update (mark_as below).
        if (marked := obj.__dict__.pop(MARK, None)) is not None:
            action, extra = marked
            changes.update(extra)
        if isinstance(obj, Report):
            changes.update(_closed_day_marks(session, obj, action))
        entries.append(_entry(obj, spec, action, changes))

    for obj in session.new:
        if spec := AUDITED.get(type(obj)):
            add(obj, spec, "create", _snapshot(obj, spec, new=True))
    for obj in session.dirty:
        spec = AUDITED.get(type(obj))
        if spec is None or not (changes := _changes(obj, spec)):
            continue  # e.g. only last_login_at moved: not a change anyone made to the record
        signed_off_at = obj.signed_off_at if isinstance(obj, Report) else None
        add(obj, spec, _update_action(spec, changes, signed_off_at), changes)
    for obj in session.deleted:
        if spec := AUDITED.get(type(obj)):
            add(obj, spec, "delete", _snapshot(obj, spec, new=False))
    _insert(session.connection(), entries)


def _update_action(spec: Audited, changes: dict, signed_off_at: datetime | None) -> str:
    """What a change is called, by the fields it changed."""
    if spec.toggles and set(changes) == {"is_active"}:
        return spec.toggles[1] if changes["is_active"][1] else spec.toggles[0]
    if set(changes) == {"password"}:
        return "password"
    if spec.record_type == "report" and set(changes) <= SIGN_OFF_FIELDS:
        return "signed off" if signed_off_at is not None else "reopened"
    return "update"


def _insert(connection, entries: list[dict]) -> None:
    """One INSERT of the entries, each signed by who is acting now."""
    if entries:
        user_id, name = actor()
        now = utcnow()
        for entry in entries:
            entry.update(user_id=user_id, actor=name[:400], created_at=now)
        connection.execute(insert(AuditEntry), entries)


def write_report_entries(
    connection,
    created: Sequence[Mapping] = (),
    changed: Sequence[tuple[Mapping, Mapping]] = (),
) -> int:
    """The entries the flush listener writes for reports, for reports written around the
    session (the import's bulk statements), identical to them, in one INSERT on
    `connection` (the session's, so they commit or roll back together). `created`: the
    values of reports inserted, their id included; `changed`: (stored values, values
    written) of reports updated, keyed by Report's column names. A pair that changes no
    audited field writes nothing. Returns the number of entries written."""
    spec = AUDITED[Report]
    by_a_person = _by_a_person()
    today = cycle.local_today() if by_a_person else None
    entries = []

    def add(values: Mapping, action: str, changes: dict, days: set) -> None:
        if by_a_person:
            changes.update(
                _closed_day_marks_of(connection, values["hospital_id"], days, action, today)
            )
        entries.append(
            {
                "action": action,
                "record_type": spec.record_type,
                "record_id": values["id"],
                "record_label": report_label(values["report_date"])[:300],
                "hospital_id": values["hospital_id"],
                "changes": changes,
            }
        )

    for values in created:
        snapshot = _snapshot_of(spec, lambda field: _plain(values[field]), new=True)  # noqa: B023
        add(values, "create", snapshot, {values["report_date"]})
    for old, new in changed:
        changes = {}
        for field in spec.fields:
            before, after = _plain(old[field]), _plain(new[field])
            if before != after:
                changes[field] = [before, after]
        if changes:
            action = _update_action(spec, changes, new["signed_off_at"])
            add(new, action, changes, {old["report_date"], new["report_date"]})
    _insert(connection, entries)
    return len(entries)
