"""Reading the audit trail: the entries each history page lists, newest first. The history
pages themselves belong to the areas whose records they show (hospitals, reports, accounts);
/audit is this area's own. The last change of a record, which a conflict names, is
conflicts.last_change."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, select

from .. import rules
from ..extensions import db
from ..models import AuditEntry, Hospital


def newest_first(stmt: Select) -> Select:
    return stmt.order_by(AuditEntry.id.desc())


def of_record(record_type: str, record_id: int) -> Select:
    """Every change to one record, which may have been deleted since: its trail outlives it."""
    return newest_first(
        select(AuditEntry).where(
            AuditEntry.record_type == record_type, AuditEntry.record_id == record_id
        )
    )


def of_hospital(hospital_id: int) -> Select:
    """A hospital's own changes and those of its reports, deleted ones included."""
    return newest_first(select(AuditEntry).where(AuditEntry.hospital_id == hospital_id))


def hospital_of_deleted_report(report_id: int) -> int | None:
    """The hospital a report belonged to, from its trail (every entry of a report names it);
    None when the trail knows no such report."""
    return db.session.scalar(
        select(AuditEntry.hospital_id)
        .where(AuditEntry.record_type == "report", AuditEntry.record_id == report_id)
        .limit(1)
    )


def _utc_start(day: date) -> datetime:
    """Midnight at the start of `day` in the hospitals' time zone, as naive UTC."""
    # With no TIMEZONE the datetime is naive, and astimezone() reads it as the server's time.
    local = datetime.combine(day, time.min, tzinfo=rules.zone())
    return local.astimezone(UTC).replace(tzinfo=None)


def filtered(
    user_id: int | None = None,
    record_type: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    hospital_id: int | None = None,
    action: str | None = None,
) -> Select:
    """/audit: the whole trail, narrowed by who, what kind of record, which days (in the
    hospitals' time zone), which hospital (itself and its reports) and what was done."""
    stmt = select(AuditEntry)
    if user_id is not None:
        stmt = stmt.where(AuditEntry.user_id == user_id)
    if record_type:
        stmt = stmt.where(AuditEntry.record_type == record_type)
    if hospital_id is not None:
        stmt = stmt.where(AuditEntry.hospital_id == hospital_id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if date_from:
        stmt = stmt.where(AuditEntry.created_at >= _utc_start(date_from))
    if date_to:
        stmt = stmt.where(AuditEntry.created_at < _utc_start(date_to + timedelta(days=1)))
    return newest_first(stmt)


def hospital_names(entries: Iterable[AuditEntry]) -> dict[int, str]:
    """{hospital id: "CODE Name"} of the hospitals a page of entries mentions (the hospital of
    each entry, and a report's hospital_id among its values), in one query."""
    ids = set()
    for entry in entries:
        if entry.hospital_id is not None:
            ids.add(entry.hospital_id)
        ids.update(v for v in (entry.changes or {}).get("hospital_id", ()) if isinstance(v, int))
    if not ids:
        return {}
    rows = db.session.execute(
        select(Hospital.id, Hospital.code, Hospital.name).where(Hospital.id.in_(ids))
    )
    return {i: f"{code} {name}" for i, code, name in rows}


def hospital_choices() -> list[tuple[int, str, str]]:
    """(id, code, name) of every hospital, archived ones too (their trail stays), by code."""
    return list(
        db.session.execute(
            select(Hospital.id, Hospital.code, Hospital.name).order_by(Hospital.code)
        )
    )
