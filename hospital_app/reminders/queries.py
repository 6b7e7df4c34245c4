"""What the reminders page reads: the last days' sendings, counted by state, and the
reminders of one day. Two queries, whatever the number of editors or days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, select

from ..extensions import db
from ..models import Account, Reminder

DAYS_SHOWN = 14


@dataclass(frozen=True)
class DaySending:
    day: date
    sent: int
    failed: int
    in_doubt: int
    last_attempt: datetime


def _count(state: str):
    return func.sum(case((Reminder.state == state, 1), else_=0))


def last_days(limit: int = DAYS_SHOWN) -> list[DaySending]:
    """The last `limit` days reminders were sent for, newest first."""
    stmt = (
        select(
            Reminder.report_date,
            _count("sent"),
            _count("failed"),
            _count("sending"),
            func.max(Reminder.attempted_at),
        )
        .group_by(Reminder.report_date)
        .order_by(Reminder.report_date.desc())
        .limit(limit)
    )
    return [
        DaySending(day, int(sent), int(failed), int(doubt), last)
        for day, sent, failed, doubt, last in db.session.execute(stmt)
    ]


def of_day(day: date) -> list[tuple[Reminder, str]]:
    """The reminders of `day` with their editor's name: those needing attention (in doubt,
    failed) first, then by address."""
    order = case((Reminder.state == "sending", 0), (Reminder.state == "failed", 1), else_=2)
    stmt = (
        select(Reminder, Account.display_name)
        .join(Account, Account.id == Reminder.account_id)
        .where(Reminder.report_date == day)
        .order_by(order, Reminder.email)
    )
    return [(reminder, name) for reminder, name in db.session.execute(stmt)]
