"""What the data-entry area reads: the hospitals a person reports for, each one's state on a
day (to do, or entered by whom and when), and the next one still to do. The reminders read
the same "to do" as the entry page, from here."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, case, exists, select

from .. import rules
from ..extensions import db
from ..hospitals.queries import with_latest_report
from ..models import Account, AuditEntry, Hospital, Report, hospital_editors


@dataclass(frozen=True)
class DayRow:
    """One hospital on the entry page: its report of the day, if any, and who entered it."""

    hospital: Hospital
    report: Report | None
    entered_by: str | None
    entered_at: datetime | None

    @property
    def to_do(self) -> bool:
        return self.report is None


def reportable(account, region: str | None = None) -> Select:
    """The active hospitals `account` reports for: an editor's assigned ones, everyone's for
    an administrator (policy.py decides the same for each report; archived hospitals take no
    reports from anyone)."""
    stmt = select(Hospital).where(Hospital.is_active.is_(True))
    if account.role == "editor":
        stmt = stmt.join(hospital_editors, hospital_editors.c.hospital_id == Hospital.id).where(
            hospital_editors.c.user_id == account.id
        )
    elif account.role != "admin":
        stmt = stmt.where(False)  # viewers report for no hospital
    if region:
        stmt = stmt.where(Hospital.region == region)
    return stmt


def _report_of_day(day: date):
    return (Report.hospital_id == Hospital.id) & (Report.report_date == day)


def day_sheet(account, day: date, region: str | None = None) -> list[DayRow]:
    """Every hospital `account` reports for, with its state on `day`: those still to do
    first, then by name. Two queries, whatever the number of hospitals: the hospitals with
    their report of the day, then the audit entries that created those reports."""
    stmt = (
        reportable(account, region)
        .add_columns(Report)
        .outerjoin(Report, _report_of_day(day))
        .order_by(case((Report.id.is_(None), 0), else_=1), Hospital.name, Hospital.id)
    )
    found = db.session.execute(stmt).all()
    entered = creators([report.id for _hospital, report in found if report is not None])
    return [
        DayRow(hospital, report, *entered.get(report.id if report else None, (None, None)))
        for hospital, report in found
    ]


def creators(report_ids: list[int]) -> dict[int, tuple[str, datetime]]:
    """Who entered each report and when, from the audit entries that created them: one
    query, none for no reports."""
    if not report_ids:
        return {}
    # Sorted here, not by the database: an ORDER BY id leads SQLite to walk every report's
    # audit entry in id order (ix_audit_log_record_type) instead of seeking these reports'
    # in ix_audit_log_record: 120 ms instead of 5 with 300,000 entries.
    entries = db.session.execute(
        select(AuditEntry.id, AuditEntry.record_id, AuditEntry.actor, AuditEntry.created_at).where(
            AuditEntry.record_type == "report",
            AuditEntry.action == "create",
            AuditEntry.record_id.in_(report_ids),
        )
    ).all()
    # Oldest first, so the newest entry wins should a deleted report's id be reused.
    entries.sort(key=lambda entry: entry.id)
    return {record_id: (actor, at) for _id, record_id, actor, at in entries}


def to_do(account, day: date, region: str | None = None) -> list[tuple[int, str]]:
    """(id, name) of the hospitals still to do on `day`, in the entry page's order."""
    stmt = (
        reportable(account, region)
        .where(~exists().where(_report_of_day(day)))
        .with_only_columns(Hospital.id, Hospital.name)
        .order_by(Hospital.name, Hospital.id)
    )
    return [(id_, name) for id_, name in db.session.execute(stmt)]


def next_to_do(account, day: date, after: Hospital, region: str | None = None) -> int | None:
    """The hospital to enter after `after` on `day`: the next one still to do in the entry
    page's order, going round to the start (a hospital skipped earlier comes back last);
    None when no other one is left."""
    left = [(name, id_) for id_, name in to_do(account, day, region) if id_ != after.id]
    if not left:
        return None
    later = [id_ for name, id_ in left if (name, id_) > (after.name, after.id)]
    return later[0] if later else left[0][1]


def to_do_by_editor(day: date) -> dict[int, list[Hospital]]:
    """For every active editor, the active hospitals assigned to them with no report on
    `day`, by name (the reminders). One query."""
    stmt = (
        select(hospital_editors.c.user_id, Hospital)
        .join(Hospital, Hospital.id == hospital_editors.c.hospital_id)
        .join(Account, Account.id == hospital_editors.c.user_id)
        .where(
            Account.is_active.is_(True),
            Account.role == "editor",
            Hospital.is_active.is_(True),
            ~exists().where(_report_of_day(day)),
        )
        .order_by(hospital_editors.c.user_id, Hospital.name, Hospital.id)
    )
    result: dict[int, list[Hospital]] = defaultdict(list)
    for account_id, hospital in db.session.execute(stmt):
        result[account_id].append(hospital)
    return dict(result)


def grid_rows(
    account, day: date, region: str | None = None
) -> list[tuple[Hospital, Report | None]]:
    """The grid's rows: the hospitals still to do on `day`, in the entry page's order, each
    with its newest report (whatever its date; a new report starts with its capacity), or
    None. One query, whatever the number of hospitals."""
    stmt = with_latest_report(
        reportable(account, region)
        .where(~exists().where(_report_of_day(day)))
        .order_by(Hospital.name, Hospital.id)
    )
    return [(hospital, hospital.latest_report) for hospital in db.session.scalars(stmt)]


def hospitals_for_update(ids) -> list[Hospital]:
    """The hospitals of a submitted grid, by name, each row locked FOR SHARE until the
    commit: an archive saved at the same moment waits for these reports, or is seen here
    (PostgreSQL, MariaDB; SQLite has one writer). One query."""
    # An id beyond what the column holds names no hospital (PostgreSQL would refuse the
    # query); the caller then finds a row of no hospital.
    stmt = (
        select(Hospital)
        .where(Hospital.id.in_([i for i in ids if i <= rules.ID_MAX]))
        .order_by(Hospital.name, Hospital.id)
        .with_for_update(read=True)
    )
    return list(db.session.scalars(stmt))
