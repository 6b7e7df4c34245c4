"""The follow-up list's rows and counts: one query for a page, one for the counts by reason."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased, contains_eager

from ..extensions import db
from ..models import Account, FollowUp, Hospital, Report

confirmer = aliased(Account, name="confirmer")
reviewer = aliased(Account, name="reviewer")


def _filtered(stmt: Select, status: str, region: str, reason: str) -> Select:
    if status:
        stmt = stmt.where(FollowUp.status == status)
    if region:
        stmt = stmt.where(Hospital.region == region)
    if reason == "none":
        stmt = stmt.where(FollowUp.reason.is_(None))
    elif reason:
        stmt = stmt.where(FollowUp.reason == reason)
    return stmt


def listing(status: str = "", region: str = "", reason: str = "") -> Select:
    """The follow-ups, newest confirmation first, with their report, hospital and the people
    named, loaded in the same query."""
    stmt = (
        select(FollowUp)
        .join(FollowUp.report)
        .join(Report.hospital)
        .outerjoin(confirmer, confirmer.id == FollowUp.confirmed_by_id)
        .outerjoin(reviewer, reviewer.id == FollowUp.reviewer_id)
        .options(
            contains_eager(FollowUp.report).contains_eager(Report.hospital),
            contains_eager(FollowUp.confirmed_by.of_type(confirmer)),
            contains_eager(FollowUp.reviewer.of_type(reviewer)),
        )
        .order_by(FollowUp.confirmed_at.desc(), FollowUp.id.desc())
    )
    return _filtered(stmt, status, region, reason)


def counts_by_reason(status: str = "", region: str = "") -> dict[str | None, int]:
    """{reason (None: not asked): how many} of the follow-ups the other filters keep."""
    stmt = (
        select(FollowUp.reason, func.count())
        .join(FollowUp.report)
        .join(Report.hospital)
        .group_by(FollowUp.reason)
    )
    return dict(db.session.execute(_filtered(stmt, status, region, "")).all())


def sent_back(hospital_ids: frozenset[int] | None) -> list[FollowUp]:
    """The follow-ups sent back to these hospitals (None: all), for the entry page."""
    stmt = (
        select(FollowUp)
        .join(FollowUp.report)
        .join(Report.hospital)
        .options(contains_eager(FollowUp.report).contains_eager(Report.hospital))
        .where(FollowUp.status == "sent back", Hospital.is_active.is_(True))
        .order_by(Report.report_date.desc(), Hospital.name)
    )
    if hospital_ids is not None:
        stmt = stmt.where(Report.hospital_id.in_(hospital_ids))
    return list(db.session.scalars(stmt))
