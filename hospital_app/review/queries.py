"""What the review page reads, in a fixed number of queries whatever the number of hospitals:
the region's active hospitals with their report of the day and who signed it off (1), who
entered each report (1), the unusual figures (1), the day before's occupied beds for the
census check (1) and the capacity history (1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import aliased, contains_eager
from sqlalchemy.orm.attributes import set_committed_value

from .. import outliers, rules
from ..entry.queries import creators
from ..extensions import db
from ..models import Account, Hospital, Report


@dataclass
class ReviewRow:
    hospital: Hospital
    report: Report | None
    entered_by: str | None = None
    entered_at: datetime | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def missing(self) -> bool:
        return self.report is None


def _active_of_region(region: str):
    return select(Hospital).where(Hospital.is_active.is_(True), Hospital.region == region)


def review_sheet(region: str, day: date) -> list[ReviewRow]:
    """Every active hospital of `region`, by name, with its report of `day` (if any) and
    what is unusual about it."""
    signer = aliased(Account)
    stmt = (
        _active_of_region(region)
        .add_columns(Report, signer)
        .outerjoin(Report, (Report.hospital_id == Hospital.id) & (Report.report_date == day))
        .outerjoin(signer, signer.id == Report.signed_off_by_id)
        .order_by(Hospital.name, Hospital.id)
    )
    rows = []
    for hospital, report, signed_by in db.session.execute(stmt):
        if report is not None:
            # Filled from this query (not changed): reading them later sends none.
            set_committed_value(report, "hospital", hospital)
            set_committed_value(report, "signed_off_by", signed_by)
        rows.append(ReviewRow(hospital, report))
    present = [row for row in rows if row.report is not None]
    if not present:
        return rows
    _entered_by(present)
    _warnings(present, day)
    return rows


def _entered_by(rows: list[ReviewRow]) -> None:
    entered = creators([row.report.id for row in rows])
    for row in rows:
        row.entered_by, row.entered_at = entered.get(row.report.id, (None, None))


def _warnings(rows: list[ReviewRow], day: date) -> None:
    reports = [row.report for row in rows]
    unusual = outliers.batch_warnings(
        [
            outliers.ReportRow(
                r.hospital_id,
                r.report_date,
                {name: getattr(r, name) for name in rules.COUNT_FIELDS},
                r.id,
            )
            for r in reports
        ]
    )
    ids = [r.hospital_id for r in reports]
    previous = dict(
        db.session.execute(
            select(Report.hospital_id, Report.beds_occupied).where(
                Report.hospital_id.in_(ids), Report.report_date == day - timedelta(days=1)
            )
        ).all()
    )
    unchanged = _capacity_unchanged(ids, day)
    for row, found in zip(rows, unusual, strict=True):
        r = row.report
        row.warnings = list(found)
        before = previous.get(r.hospital_id)
        gap = rules.census_gap(before, r.admissions, r.discharges, r.deaths, r.beds_occupied)
        if gap is not None:
            row.warnings.append(
                "Census does not add up: "
                + rules.census_message(
                    before, r.admissions, r.discharges, r.deaths, r.beds_occupied
                )
            )
        if r.hospital_id in unchanged:
            row.warnings.append(
                f"Capacity (beds, ICU beds, ventilators) unchanged for "
                f"{rules.CAPACITY_UNCHANGED_DAYS} days or more: still correct?"
            )


def _capacity_unchanged(hospital_ids: list[int], day: date) -> set[int]:
    """The hospitals whose capacity figures are the same in every report of the last
    CAPACITY_UNCHANGED_DAYS days, the first of them at least that old (a week's gap in the
    reports before that is allowed). One query."""
    since = day - timedelta(days=rules.CAPACITY_UNCHANGED_DAYS)
    columns = [getattr(Report, name) for name in rules.CAPACITY_FIELDS]
    stmt = (
        select(Report.hospital_id)
        .where(
            Report.hospital_id.in_(hospital_ids),
            Report.report_date.between(since - timedelta(days=7), day),
        )
        .group_by(Report.hospital_id)
        .having(
            func.min(Report.report_date) <= since,
            *(func.min(c) == func.max(c) for c in columns),
        )
    )
    return set(db.session.scalars(stmt))


def reviewable_regions(regions: frozenset[str] | None) -> list[str]:
    """The regions in use that a person reviewing `regions` (None: all) may choose."""
    stmt = select(Hospital.region).distinct().order_by(Hospital.region)
    if regions is not None:
        stmt = stmt.where(Hospital.region.in_(sorted(regions)))
    return list(db.session.scalars(stmt))


def to_sign_off(region: str, day: date) -> list[Report]:
    """The reports of `region`'s active hospitals for `day` not signed off yet, with their
    hospital, as the sign-off changes them."""
    stmt = (
        select(Report)
        .join(Report.hospital)
        .options(contains_eager(Report.hospital))
        .where(
            Hospital.region == region,
            Hospital.is_active.is_(True),
            Report.report_date == day,
            Report.signed_off_at.is_(None),
        )
        .order_by(Report.id)
    )
    return list(db.session.scalars(stmt))


def report_for_review(report_id: int) -> Report | None:
    signer = aliased(Account)
    stmt = (
        select(Report)
        .join(Report.hospital)
        .outerjoin(signer, signer.id == Report.signed_off_by_id)
        .options(
            contains_eager(Report.hospital),
            contains_eager(Report.signed_off_by.of_type(signer)),
        )
        .where(Report.id == report_id)
    )
    return db.session.scalar(stmt)


def missing_count(region: str, day: date) -> int:
    """How many active hospitals of `region` have no report of `day`."""
    stmt = (
        select(func.count())
        .select_from(Hospital)
        .outerjoin(Report, (Report.hospital_id == Hospital.id) & (Report.report_date == day))
        .where(Hospital.is_active.is_(True), Hospital.region == region, Report.id.is_(None))
    )
    return db.session.scalar(stmt)
