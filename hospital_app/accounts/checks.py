"""The rules of an account that need the database (is an email taken, which hospital codes
exist), with the rules of rules.py: written once, for the accounts form and for
`flask create-user` alike."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select

from .. import rules
from ..extensions import db
from ..models import Account, Hospital


def unique_codes(typed: Iterable[str]) -> list[str]:
    """Facility codes normalised, blanks dropped, each once, in the order typed."""
    codes = (rules.normalise_code(code) for code in typed)
    return list(dict.fromkeys(code for code in codes if code))


def _unknown_codes_message(unknown: list[str]) -> str:
    if len(unknown) == 1:
        return f"No hospital has the code {unknown[0]}. Check it on the list of hospitals."
    return (
        f"No hospital has these codes: {', '.join(unknown)}. Check them on the list of hospitals."
    )


def email_owner(email: str, except_id: int | None = None) -> Account | None:
    """The account that already uses `email` (stored lower-case, so any case matches)."""
    stmt = select(Account).where(Account.email == rules.normalise_email(email))
    if except_id is not None:
        stmt = stmt.where(Account.id != except_id)
    return db.session.scalar(stmt)


@dataclass
class Checked:
    """What check_account() found: the messages per field, and the hospitals the codes name."""

    errors: dict[str, list[str]] = field(default_factory=dict)
    hospitals: list[Hospital] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)  # a reviewer's, as hospitals spell them

    def add(self, name: str, messages: list[str]) -> None:
        if messages:
            self.errors.setdefault(name, []).extend(messages)


def check_account(
    email: str,
    display_name: str,
    role: str,
    codes: list[str],
    account: Account | None = None,
    me: Account | None = None,
    regions: Iterable[str] = (),
    all_regions: bool = False,
) -> Checked:
    """Every rule an account's details break. `email` and `display_name` are normalised
    (rules.normalise_email, normalise_space), `codes` as unique_codes() gives them;
    `account` is the one being changed (None when creating), `me` the administrator changing
    it. One query for the email, one for the codes."""
    checked = Checked()
    email_problems = rules.email_errors(email)
    if not email_problems:
        owner = email_owner(email, except_id=account.id if account else None)
        if owner is not None:
            email_problems = [
                f"{owner.email} already has an account ({owner.display_name}). "
                "Each person has one account; change that one instead."
            ]
    checked.add("email", email_problems)
    checked.add("display_name", rules.display_name_errors(display_name))
    myself = account is not None and me is not None and account.id == me.id
    if myself and account.is_admin and role != "admin":
        checked.add(
            "role", ["You cannot remove your own administrator role: another administrator can."]
        )
    if codes and role != "editor":
        checked.add(
            "hospitals",
            [
                f"{rules.ONLY_EDITORS_MESSAGE}: assign hospitals only with the role "
                f"{rules.ROLES['editor']}."
            ],
        )
    elif codes:
        found = {
            h.code: h for h in db.session.scalars(select(Hospital).where(Hospital.code.in_(codes)))
        }
        checked.hospitals = [found[c] for c in codes if c in found]
        unknown = [c for c in codes if c not in found]
        if unknown:
            checked.add("hospitals", [_unknown_codes_message(unknown)])
    _check_regions(checked, role, regions, all_regions)
    return checked


def _check_regions(checked: Checked, role: str, typed: Iterable[str], all_regions: bool) -> None:
    """A reviewer's regions: some of the regions in use (any case; stored as the hospitals
    spell them), or all regions. Only reviewers have regions."""
    typed = list(dict.fromkeys(r for r in map(rules.normalise_space, typed) if r))
    if role != "reviewer":
        if typed or all_regions:
            checked.add(
                "regions",
                [
                    f"{rules.ONLY_REVIEWERS_MESSAGE}: give regions only with the role "
                    f"{rules.ROLES['reviewer']}."
                ],
            )
        return
    if all_regions:
        return
    if not typed:
        checked.add("regions", ["Choose the regions this reviewer checks, or all regions."])
        return
    in_use = {r.lower(): r for r in db.session.scalars(select(Hospital.region).distinct())}
    unknown = [r for r in typed if r.lower() not in in_use]
    if unknown:
        checked.add("regions", [f"No hospital is in the region {', '.join(unknown)}."])
    checked.regions = sorted({in_use[r.lower()] for r in typed if r.lower() in in_use})
