"""What the accounts pages read: the list, and how many hospitals each account reports for."""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Account, Hospital, hospital_editors


def filtered_accounts(filters) -> Select:
    """The accounts the list's `filters` (forms.ListFilters, validated) select, by name."""
    stmt = select(Account)
    if filters.q.data:
        # Part of a name or an email, in any case; % and _ typed are plain characters.
        text = filters.q.data.lower()
        stmt = stmt.where(
            or_(
                func.lower(Account.display_name).contains(text, autoescape=True),
                Account.email.contains(text, autoescape=True),
            )
        )
    if filters.role.data:
        stmt = stmt.where(Account.role == filters.role.data)
    if filters.status.data == "active":
        stmt = stmt.where(Account.is_active.is_(True))
    elif filters.status.data == "deactivated":
        stmt = stmt.where(Account.is_active.is_(False))
    # A reviewer's regions with the page, in one more query whatever the number of rows.
    stmt = stmt.options(selectinload(Account.region_rows))
    return stmt.order_by(Account.display_name, Account.email, Account.id)


def hospital_counts(accounts: list[Account]) -> dict[int, int]:
    """{account id: number of assigned hospitals} for the accounts of one page, in one query."""
    if not accounts:
        return {}
    rows = db.session.execute(
        select(hospital_editors.c.user_id, func.count())
        .where(hospital_editors.c.user_id.in_([a.id for a in accounts]))
        .group_by(hospital_editors.c.user_id)
    )
    return {account_id: n for account_id, n in rows}


def assignable_hospitals(assigned: list[Hospital]) -> list[Hospital]:
    """The hospitals an editor may be given: those `assigned` already (archived ones too, so
    saving the form keeps them), by code, then every other active hospital, by code."""
    mine = {h.id for h in assigned}
    stmt = select(Hospital).order_by(Hospital.code)
    if mine:
        stmt = stmt.where(or_(Hospital.is_active.is_(True), Hospital.id.in_(mine)))
    else:
        stmt = stmt.where(Hospital.is_active.is_(True))
    found = list(db.session.scalars(stmt))
    return [h for h in found if h.id in mine] + [h for h in found if h.id not in mine]
