"""What the data is: hospitals and their daily reports, the staff accounts that change them,
and the audit trail of every change.

The schema itself is built by the Alembic migrations in migrations/; tests check that it
agrees with these models. The one rule no CHECK constraint can hold on all three databases,
'report_date is not in the future', is a trigger made by the migration.

Two tables keep the names they were created with: a report's is `hospital_stats` and an
account's is `users`. Renaming a table would rename its constraints, indexes and triggers on
three databases for no change in what the data is; the classes carry the product's words.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time

from flask_login import UserMixin
from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from . import rules
from .extensions import db


def utcnow() -> datetime:
    """Naive UTC: the three databases store it alike."""
    return datetime.now(UTC).replace(tzinfo=None)


class Timestamped:
    # Callables, so each row gets the time it was written, not the time of import.
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    # Raised on every UPDATE; SQLAlchemy adds "AND version = <loaded>" to it, so a row
    # changed by someone else in the meantime is not silently overwritten.
    version: Mapped[int] = mapped_column(Integer)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        return {"version_id_col": cls.__table__.c.version}


class Hospital(Timestamped, db.Model):
    __tablename__ = "hospitals"
    __table_args__ = (
        # The list: active hospitals by name (the default), or all of them by name.
        Index("ix_hospitals_is_active_name", "is_active", "name", "id"),
        Index("ix_hospitals_name", "name", "id"),
        CheckConstraint(rules.CodeFormatCheck("code"), name="code_format"),
        *(
            CheckConstraint(sql, name=name)
            for name, sql in rules.hospital_check_constraints().items()
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored upper-case (checked): a plain unique constraint makes codes unique whatever the case.
    code: Mapped[str] = mapped_column(String(rules.CODE_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(rules.NAME_MAX))
    region: Mapped[str] = mapped_column(String(rules.REGION_MAX), index=True)
    city: Mapped[str | None] = mapped_column(String(rules.CITY_MAX))
    ownership: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())

    # Filled only by queries that ask for it (contains_eager), never loaded behind one's back.
    latest_report: Mapped[Report | None] = relationship(viewonly=True, lazy="raise", uselist=False)

    @property
    def ownership_label(self) -> str:
        return rules.OWNERSHIP.get(self.ownership, self.ownership)

    def __repr__(self) -> str:
        return f"<Hospital {self.code}>"


class Report(Timestamped, db.Model):
    """A hospital's daily report: its figures for one day."""

    __tablename__ = "hospital_stats"
    __table_args__ = (
        # Also the index for one hospital's reports by date.
        UniqueConstraint("hospital_id", "report_date"),
        # One date across the network (the dashboard), and date ranges (the reports list).
        # It carries the occupancy figures too, so the dashboard's trends over a date range
        # are read from the index alone, without a look-up of each report's row.
        Index(
            "ix_hospital_stats_report_date",
            "report_date",
            "hospital_id",
            "beds_occupied",
            "beds_total",
            "icu_beds_occupied",
            "icu_beds_total",
        ),
        # Confirmed outliers waiting for follow-up, newest first.
        Index("ix_hospital_stats_outlier", "outlier_confirmed", "report_date"),
        # Timeliness: each hospital's reports of a date range, on time or not, read from the
        # index alone (a year of a thousand hospitals: 57 ms instead of a second).
        Index("ix_hospital_stats_timeliness", "hospital_id", "report_date", "on_time"),
        *(
            CheckConstraint(sql, name=name)
            for name, sql in rules.report_check_constraints().items()
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    report_date: Mapped[date] = mapped_column(Date)
    beds_total: Mapped[int]
    beds_occupied: Mapped[int]
    icu_beds_total: Mapped[int]
    icu_beds_occupied: Mapped[int]
    ventilators_total: Mapped[int]
    ventilators_in_use: Mapped[int]
    admissions: Mapped[int]
    discharges: Mapped[int]
    deaths: Mapped[int]
    notes: Mapped[str | None] = mapped_column(String(rules.NOTES_MAX))
    # Figures far outside the hospital's recent history that the person confirmed as correct,
    # and what was unusual about them: the dashboard lists these for follow-up.
    outlier_confirmed: Mapped[bool] = mapped_column(default=False, server_default=false())
    outlier_note: Mapped[str | None] = mapped_column(String(rules.OUTLIER_NOTE_MAX))
    # Whether the report was first saved by its day's deadline (cycle.py), decided once when
    # it is inserted, by the settings of that moment: later edits, and later changes of the
    # deadline, leave it as it was.
    on_time: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Signed off by a reviewer or an administrator (review/): editors may then no longer
    # change or delete it (policy.py) until someone reopens it, with a reason.
    signed_off_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_off_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Why it was last reopened; cleared when it is signed off again.
    reopen_reason: Mapped[str | None] = mapped_column(String(rules.REOPEN_REASON_MAX))

    hospital: Mapped[Hospital] = relationship(lazy="raise")
    signed_off_by: Mapped[Account | None] = relationship(lazy="raise")

    @property
    def is_signed_off(self) -> bool:
        return self.signed_off_at is not None

    @property
    def occupancy(self) -> float | None:
        """Bed occupancy in percent; None where there are no beds."""
        return 100 * self.beds_occupied / self.beds_total if self.beds_total else None

    @property
    def icu_occupancy(self) -> float | None:
        return 100 * self.icu_beds_occupied / self.icu_beds_total if self.icu_beds_total else None

    def __repr__(self) -> str:
        return f"<Report hospital={self.hospital_id} {self.report_date}>"


class RegionDay(db.Model):
    """The sums of one day's reports of one region's hospitals, active or archived apart:
    kept by summary.py in the same transaction as every write of a report (and every change
    of a hospital's region or archiving), so the dashboard's trends and the reports list's
    counts read a row per region and day instead of every report."""

    __tablename__ = "region_days"
    # On SQLite the rows are stored in the primary key's order, not beside it: a range of
    # days is read from the key's b-tree alone (PostgreSQL and MariaDB ignore this).
    __table_args__ = ({"sqlite_with_rowid": False},)

    report_date: Mapped[date] = mapped_column(Date, primary_key=True)
    region: Mapped[str] = mapped_column(String(rules.REGION_MAX), primary_key=True)
    active: Mapped[bool] = mapped_column(primary_key=True)
    reports: Mapped[int] = mapped_column(default=0)
    on_time: Mapped[int] = mapped_column(default=0)
    signed_off: Mapped[int] = mapped_column(default=0)
    beds_total: Mapped[int] = mapped_column(default=0)
    beds_occupied: Mapped[int] = mapped_column(default=0)
    icu_beds_total: Mapped[int] = mapped_column(default=0)
    icu_beds_occupied: Mapped[int] = mapped_column(default=0)
    ventilators_total: Mapped[int] = mapped_column(default=0)
    ventilators_in_use: Mapped[int] = mapped_column(default=0)
    # How many times the row was written: only ever grows, so the count and sum of it over a
    # range of days say whether anything in the range changed (the dashboard's charts are
    # drawn again only then: dashboard/queries.py).
    changes: Mapped[int] = mapped_column(default=0)


class HospitalWeek(db.Model):
    """How many reports a hospital has of one Monday-to-Sunday week, and how many of them
    were on time: kept by summary.py beside region_days, so the timeliness page counts a
    row per hospital and week instead of every report of the range."""

    __tablename__ = "hospital_weeks"
    __table_args__ = ({"sqlite_with_rowid": False},)  # as region_days: read by key ranges

    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"), primary_key=True)
    week: Mapped[date] = mapped_column(Date, primary_key=True)  # its Monday
    reports: Mapped[int] = mapped_column(default=0)
    on_time: Mapped[int] = mapped_column(default=0)


# --- Accounts --------------------------------------------------------------------------------

# Which hospitals an editor may enter and change the reports of.
hospital_editors = Table(
    "hospital_editors",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("hospital_id", ForeignKey("hospitals.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_hospital_editors_hospital_id", "hospital_id"),
)


class AccountRegion(db.Model):
    """A region a reviewer checks and signs off (unless the account reviews all of them).
    By name, as hospitals carry it: a reviewer may be given a region before its first
    hospital is registered."""

    __tablename__ = "account_regions"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    region: Mapped[str] = mapped_column(String(rules.REGION_MAX), primary_key=True)


class Account(Timestamped, UserMixin, db.Model):
    """A person who signs in: their role, and for an editor the hospitals they report for."""

    __tablename__ = "users"
    __table_args__ = tuple(
        CheckConstraint(sql, name=name) for name, sql in rules.account_check_constraints().items()
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-case (rules.normalise_email), so the unique constraint ignores case.
    email: Mapped[str] = mapped_column(String(rules.EMAIL_MAX), unique=True)
    display_name: Mapped[str] = mapped_column(String(rules.DISPLAY_NAME_MAX))
    # werkzeug's salted scrypt hash; the password itself is never stored.
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Part of the id kept in the session cookie: raising it (deactivation, a new password)
    # ends every session of this account at its next request, on every worker.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    # A reviewer of every region, those added later included (else account_regions).
    all_regions: Mapped[bool] = mapped_column(default=False, server_default=false())

    hospitals: Mapped[list[Hospital]] = relationship(
        secondary=hospital_editors, order_by=Hospital.code
    )
    region_rows: Mapped[list[AccountRegion]] = relationship(
        cascade="all, delete-orphan", order_by=AccountRegion.region, passive_deletes=True
    )

    @property
    def regions(self) -> list[str]:
        return [row.region for row in self.region_rows]

    @property
    def regions_text(self) -> str:
        """What a reviewer covers, in words: "All regions", "North, South"."""
        return "All regions" if self.all_regions else ", ".join(self.regions)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_generation}"

    @property
    def role_label(self) -> str:
        return rules.ROLES.get(self.role, self.role)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def __repr__(self) -> str:
        return f"<Account {self.email} {self.role}>"


class SignInCounter(db.Model):
    """Failed sign-ins counted per key ("account:<email>", "address:<client>",
    "device:<nonce>") in a fixed window that starts at the key's first failure. One row per
    key, so that counting is one conditional UPDATE that the database makes atomic across
    every worker and machine (see auth/throttle.py)."""

    __tablename__ = "sign_in_counters"

    KEY_MAX = 300  # "account:" and an email of rules.EMAIL_MAX, with room to spare
    CLIENT_MAX = 64  # an IPv6 address with room to spare
    key: Mapped[str] = mapped_column(String(KEY_MAX), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(DateTime, index=True)


# --- The audit trail -------------------------------------------------------------------------


class JSONText(TypeDecorator):
    """JSON kept as text: the same column type on all three databases."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def process_result_value(self, value, dialect):
        return None if value is None else json.loads(value)


class AuditEntry(db.Model):
    """One change to a hospital, a report or an account: who, when, what, old and new values.
    `record_type` is "hospital", "report" or "account".

    Written by audit.trail in the same flush as the change, never by a view.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_record", "record_type", "record_id", "id"),
        # /audit?record_type=…, newest first
        Index("ix_audit_log_record_type", "record_type", "id"),
        Index("ix_audit_log_hospital_id", "hospital_id", "id"),
        Index("ix_audit_log_user_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    # Who: the account (kept even if it is renamed later) and how they were known then.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(400))
    action: Mapped[str] = mapped_column(String(20))
    record_type: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[int] = mapped_column(Integer)
    record_label: Mapped[str] = mapped_column(String(300))
    # The hospital a report belongs to (or the hospital itself): its history page lists both.
    hospital_id: Mapped[int | None] = mapped_column(Integer)
    # {field: [old, new]}
    changes: Mapped[dict] = mapped_column(JSONText)

    user: Mapped[Account | None] = relationship(lazy="raise")


# --- Reminders -------------------------------------------------------------------------------

REMINDER_STATES = ("sending", "sent", "failed")


class Reminder(db.Model):
    """The email reminding one editor of the hospitals still to report for one day, and how
    its sending went (hospital_app/reminders/sending.py tells the whole design).

    'sending': claimed and committed before the mail server was asked; it stays so only when
    the command stopped before it heard the answer (in doubt: the message may have gone out).
    'sent': the server accepted it. 'failed': refused or not reached; the next run retries it.
    One row per editor and day (the unique constraint): nobody is told twice.
    """

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("account_id", "report_date"),
        # The administrators' page: the last days' sendings, newest first.
        Index("ix_reminders_report_date", "report_date"),
        CheckConstraint(
            "state IN (" + ", ".join(f"'{s}'" for s in REMINDER_STATES) + ")", name="state_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    report_date: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(10))
    # Where it went and what it listed, as they were then: the account may change later.
    email: Mapped[str] = mapped_column(String(rules.EMAIL_MAX))
    hospitals: Mapped[str] = mapped_column(Text)
    attempted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The mail server's reply (or why it could not be reached) when it failed.
    error: Mapped[str | None] = mapped_column(Text)

    account: Mapped[Account] = relationship(lazy="raise")

    def __repr__(self) -> str:
        return f"<Reminder {self.account_id} {self.report_date} {self.state}>"


# --- The reporting cycle ---------------------------------------------------------------------


class ReportingSettings(Timestamped, db.Model):
    """The network's reporting cycle: when a day's report is due, and when a day closes for
    editors. One row (id 1), changed through /settings with the version check and in the
    audit trail like any record."""

    __tablename__ = "reporting_settings"
    __table_args__ = (
        CheckConstraint("deadline_day_offset IN (0, 1)", name="deadline_day_offset_known"),
        CheckConstraint(
            f"close_after_days IS NULL OR close_after_days BETWEEN 0 AND {rules.CLOSE_AFTER_MAX}",
            name="close_after_days_range",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    deadline_time: Mapped[time] = mapped_column(Time)
    deadline_day_offset: Mapped[int]
    close_after_days: Mapped[int | None]


class ClosingException(Timestamped, db.Model):
    """A closed period opened again for one hospital's editors, until `ends_at` (naive UTC),
    or until an administrator ends it early (`ended_at`)."""

    __tablename__ = "closing_exceptions"
    __table_args__ = (
        CheckConstraint("date_from <= date_to", name="date_range"),
        Index("ix_closing_exceptions_hospital_id", "hospital_id", "date_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    date_from: Mapped[date] = mapped_column(Date)
    date_to: Mapped[date] = mapped_column(Date)
    ends_at: Mapped[datetime] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(String(rules.EXCEPTION_REASON_MAX))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)

    hospital: Mapped[Hospital] = relationship(lazy="raise")

    def is_open(self, now: datetime) -> bool:
        return self.ended_at is None and now < self.ends_at


class FollowUp(Timestamped, db.Model):
    """A report's confirmed unusual figures, to be followed up (followup/): which fields,
    why the person who confirmed them says they are right, and what a reviewer made of it
    (checked, or sent back to the hospital with a comment). One per report, written with the
    report's save; a new confirmation of the report opens it again."""

    __tablename__ = "follow_ups"
    __table_args__ = (
        # The list's filters: status (open first), newest first.
        Index("ix_follow_ups_status", "status", "confirmed_at"),
        *(
            CheckConstraint(sql, name=name)
            for name, sql in rules.follow_up_check_constraints().items()
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("hospital_stats.id", ondelete="CASCADE"), unique=True
    )
    # The report's fields the warnings were about, comma-separated, in the form's order.
    fields: Mapped[str] = mapped_column(String(300))
    # None: confirmed where no reason was asked (the grid, the import, before this existed).
    reason: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(rules.FOLLOW_UP_NOTE_MAX))
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default="open", server_default="open")
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str | None] = mapped_column(String(rules.FOLLOW_UP_COMMENT_MAX))
    checked_at: Mapped[datetime | None] = mapped_column(DateTime)

    report: Mapped[Report] = relationship(lazy="raise")
    confirmed_by: Mapped[Account | None] = relationship(
        foreign_keys=[confirmed_by_id], lazy="raise"
    )
    reviewer: Mapped[Account | None] = relationship(foreign_keys=[reviewer_id], lazy="raise")
