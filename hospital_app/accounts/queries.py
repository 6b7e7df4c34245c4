"""What the accounts pages read: the list, and how many hospitals each account reports for."""

from __future__ import annotations

from sqlalchemy import Select, func, select

from ..extensions import db
from ..models import Account, hospital_editors


def filtered_accounts(filters) -> Select:
    """The accounts the list's `filters` (forms.ListFilters, validated) select, by name."""
    stmt = select(Account)
    if filters.role.data:
        stmt = stmt.where(Account.role == filters.role.data)
    if filters.status.data == "active":
        stmt = stmt.where(Account.is_active.is_(True))
    elif filters.status.data == "deactivated":
        stmt = stmt.where(Account.is_active.is_(False))
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
