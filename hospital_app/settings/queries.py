"""What the settings area reads: the stored settings, the hospitals an exception may be for,
and the exceptions, open ones first, with who opened and who ended each."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import joinedload

from .. import cycle
from ..extensions import db
from ..models import AuditEntry, ClosingException, Hospital, ReportingSettings


def stored_settings() -> ReportingSettings | None:
    """The settings row, None while the network still runs on the defaults."""
    return db.session.get(ReportingSettings, cycle.SETTINGS_ID)


def active_hospitals() -> list[Hospital]:
    """The hospitals an exception may open days for: archived ones take no reports at all."""
    return list(
        db.session.scalars(
            select(Hospital).where(Hospital.is_active.is_(True)).order_by(Hospital.code)
        )
    )


def _is_open(now: datetime):
    return and_(ClosingException.ended_at.is_(None), ClosingException.ends_at > now)


def exceptions_open_first(now: datetime) -> Select:
    """Every exception with its hospital: open ones first (ending soonest first), then the
    others, newest first."""
    is_open = _is_open(now)
    return (
        select(ClosingException)
        .options(joinedload(ClosingException.hospital))
        .order_by(
            case((is_open, 0), else_=1),
            case((is_open, ClosingException.ends_at), else_=None),
            ClosingException.created_at.desc(),
            ClosingException.id.desc(),
        )
    )


def exception_or_404(exception_id: int) -> ClosingException:
    """One exception with its hospital (which its audit entries name)."""
    return db.one_or_404(
        select(ClosingException)
        .options(joinedload(ClosingException.hospital))
        .where(ClosingException.id == exception_id)
    )


def open_count(now: datetime) -> int:
    return db.session.scalar(select(func.count(ClosingException.id)).where(_is_open(now))) or 0


@dataclass(frozen=True)
class Authors:
    """Who opened an exception, and who ended it early (None: the trail does not say)."""

    opened_by: str | None = None
    ended_by: str | None = None


def authors(exceptions: Iterable[ClosingException]) -> dict[int, Authors]:
    """{exception id: Authors} of a page of exceptions, from the audit trail, in one query."""
    ids = [e.id for e in exceptions]
    if not ids:
        return {}
    opened: dict[int, str] = {}
    ended: dict[int, str] = {}
    rows = db.session.execute(
        select(AuditEntry.record_id, AuditEntry.action, AuditEntry.actor, AuditEntry.changes)
        .where(AuditEntry.record_type == "exception", AuditEntry.record_id.in_(ids))
        .order_by(AuditEntry.id)
    )
    for record_id, action, actor, changes in rows:
        if action == "create":
            opened[record_id] = actor
        elif "ended_at" in (changes or {}):
            ended[record_id] = actor
    return {i: Authors(opened.get(i), ended.get(i)) for i in ids}
