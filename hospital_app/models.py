"""What the data is: hospitals and their daily statistics reports.

The schema itself is built by the Alembic migrations in migrations/; tests check that it
agrees with these models. The one rule no CHECK constraint can hold on all three databases,
'report_date is not in the future', is a trigger made by the migration.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    func,
    select,
    true,
)
from sqlalchemy.orm import (
    Mapped,
    aliased,
    contains_eager,
    declared_attr,
    mapped_column,
    relationship,
)

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
    latest_report: Mapped[HospitalStats | None] = relationship(
        viewonly=True, lazy="raise", uselist=False
    )

    @property
    def ownership_label(self) -> str:
        return rules.OWNERSHIP.get(self.ownership, self.ownership)

    def __repr__(self) -> str:
        return f"<Hospital {self.code}>"


class HospitalStats(Timestamped, db.Model):
    __tablename__ = "hospital_stats"
    __table_args__ = (
        UniqueConstraint("hospital_id", "report_date"),
        *(CheckConstraint(sql, name=name) for name, sql in rules.stats_check_constraints().items()),
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

    hospital: Mapped[Hospital] = relationship(lazy="raise")

    @property
    def occupancy(self) -> float | None:
        """Bed occupancy in percent; None where there are no beds."""
        return 100 * self.beds_occupied / self.beds_total if self.beds_total else None

    @property
    def icu_occupancy(self) -> float | None:
        return 100 * self.icu_beds_occupied / self.icu_beds_total if self.icu_beds_total else None

    def __repr__(self) -> str:
        return f"<HospitalStats hospital={self.hospital_id} {self.report_date}>"


def with_latest_report(stmt):
    """Join each hospital of `stmt` to its newest report and fill `latest_report` from it.

    A correlated subquery, so the database looks up only the hospitals the page shows
    (through the (hospital_id, report_date) unique index), in the same single query.
    """
    latest = aliased(HospitalStats)
    newer = aliased(HospitalStats)
    newest_date = (
        select(func.max(newer.report_date))
        .where(newer.hospital_id == Hospital.id)
        .scalar_subquery()
    )
    return stmt.outerjoin(
        latest, (latest.hospital_id == Hospital.id) & (latest.report_date == newest_date)
    ).options(contains_eager(Hospital.latest_report.of_type(latest)))
