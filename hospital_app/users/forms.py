"""Forms of the accounts pages: an account's details, a new account (details and its first
password), and the list's filters. The rules themselves live in rules.py; the lookups here
(is an email taken, which hospital codes exist) are shared with the create-user command."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select
from wtforms import EmailField, SelectChoice, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from .. import rules
from ..auth.forms import NewPasswordForm
from ..conflicts import form_values
from ..extensions import db
from ..models import Hospital, User, utcnow
from ..web import Choice, OrderedForm, PageArgs

ONLY_EDITORS = "Only editors are assigned to hospitals"
_CODE_SEPARATORS = re.compile(r"[\s,;]+")


def role_choices() -> list[SelectChoice]:
    return [SelectChoice(key, label) for key, label in rules.ROLES.items()]


def role_help() -> str:
    return " ".join(f"{rules.ROLES[key]}: {text}." for key, text in rules.ROLE_HELP.items())


def unique_codes(typed: Iterable[str]) -> list[str]:
    """Facility codes normalised, blanks dropped, each once, in the order typed."""
    codes = (rules.normalise_code(code) for code in typed)
    return list(dict.fromkeys(code for code in codes if code))


def parse_codes(text: str | None) -> list[str]:
    """Facility codes typed in one box, separated by commas, spaces or new lines."""
    return unique_codes(_CODE_SEPARATORS.split(text or ""))


def find_hospitals(codes: list[str]) -> tuple[list[Hospital], list[str]]:
    """(the hospitals with these codes, the codes no hospital has), in one query."""
    if not codes:
        return [], []
    stmt = select(Hospital).where(Hospital.code.in_(codes))
    found = {h.code: h for h in db.session.scalars(stmt)}
    return [found[c] for c in codes if c in found], [c for c in codes if c not in found]


def unknown_codes_message(unknown: list[str]) -> str:
    if len(unknown) == 1:
        return f"No hospital has the code {unknown[0]}. Check it on the list of hospitals."
    return (
        f"No hospital has these codes: {', '.join(unknown)}. Check them on the list of hospitals."
    )


def email_owner(email: str, except_id: int | None = None) -> User | None:
    """The account that already uses `email` (stored lower-case, so any case matches)."""
    stmt = select(User).where(User.email == rules.normalise_email(email))
    if except_id is not None:
        stmt = stmt.where(User.id != except_id)
    return db.session.scalar(stmt)


def email_taken_message(owner: User) -> str:
    return (
        f"{owner.email} already has an account ({owner.display_name}). "
        "Each person has one account; change that one instead."
    )


class AccountForm(OrderedForm):
    """An account's details. `user` is the account being edited (None when creating), `me`
    the administrator filling the form in."""

    email = EmailField(
        "Email",
        filters=[rules.normalise_email],
        validators=[DataRequired("Enter the person's email address.")],
        description="They sign in with it. Stored in lower case.",
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"},
    )
    display_name = StringField(
        "Name",
        filters=[rules.normalise_space],
        validators=[
            DataRequired("Enter the person's name."),
            Length(
                max=rules.DISPLAY_NAME_MAX,
                message=f"Keep the name to {rules.DISPLAY_NAME_MAX} characters.",
            ),
        ],
        description="As shown at the top of each page and in the audit trail.",
        render_kw={"autocomplete": "off"},
    )
    role = Choice(
        "Role",
        choices=[SelectChoice("", "Choose…"), *role_choices()],
        validators=[DataRequired("Choose what the account may do.")],
        description=role_help(),
    )
    hospital_codes = TextAreaField(
        "Hospital codes",
        description="Editors only: the facility codes of the hospitals whose statistics they "
        "may change, separated by commas, spaces or new lines, e.g. NRH-001, SGH-002.",
        render_kw={"rows": 3, "spellcheck": "false", "autocapitalize": "characters"},
    )

    def __init__(self, *args, user: User | None = None, me: User | None = None, **kwargs):
        if user is not None:
            kwargs.setdefault("hospital_codes", ", ".join(h.code for h in user.hospitals))
        super().__init__(*args, obj=user, **kwargs)
        self.user = user
        self.me = me
        self.hospitals: list[Hospital] = []  # filled in by validation

    def validate_email(self, field: EmailField) -> None:
        for message in rules.email_errors(field.data):
            raise ValidationError(message)
        owner = email_owner(field.data, except_id=self.user.id if self.user else None)
        if owner is not None:
            raise ValidationError(email_taken_message(owner))

    def validate_role(self, field: Choice) -> None:
        myself = self.user is not None and self.me is not None and self.user.id == self.me.id
        if myself and self.user.is_admin and field.data != "admin":
            raise ValidationError(
                "You cannot remove your own administrator role: another administrator can."
            )

    def validate_hospital_codes(self, field: TextAreaField) -> None:
        codes = parse_codes(field.data)
        if codes and self.role.data and self.role.data != "editor":
            raise ValidationError(
                f"{ONLY_EDITORS}: clear this box, or choose the role {rules.ROLES['editor']}."
            )
        self.hospitals, unknown = find_hospitals(codes)
        if unknown:
            raise ValidationError(unknown_codes_message(unknown))

    def account_fields(self) -> list:
        return [self.email, self.display_name, self.role, self.hospital_codes]

    def visible_fields(self) -> list:
        return self.account_fields()

    def compared_values(self) -> list:
        """What a conflict shows beside the stored account (conflicts.explain)."""
        return [
            *form_values(self, [self.email, self.display_name, self.role]),
            (
                self.hospital_codes.label.text,
                lambda user: sorted(h.code for h in user.hospitals),
                sorted(h.code for h in self.hospitals),
            ),
        ]

    def apply(self, user: User) -> None:
        user.email = self.email.data
        user.display_name = self.display_name.data
        user.role = self.role.data
        # Replaced only when it differs, so an unchanged list is not an edit.
        if {h.id for h in user.hospitals} != {h.id for h in self.hospitals}:
            user.hospitals = list(self.hospitals)
            # The assignments live in another table: touch the account's row too, so its
            # version rises and two administrators editing it at once cannot both win.
            user.updated_at = utcnow()


class NewAccountForm(AccountForm, NewPasswordForm):
    """A new account with its first password, typed twice, checked like any new password."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.password.label.text = "Password"
        self.confirm.label.text = "Password, again"
        self.password.description = (
            f"At least {rules.PASSWORD_MIN} characters. Give it to the person in person or "
            "by phone; they can change it after signing in."
        )

    def validate_password(self, field) -> None:
        # The password may not repeat the email typed in this same form.
        self.account_email = self.email.data or ""
        super().validate_password(field)

    def visible_fields(self) -> list:
        return [*self.account_fields(), self.password, self.confirm]


class ListFilters(PageArgs):
    """The list's query string. Plain Form: a GET changes nothing, so it needs no CSRF token."""

    role = Choice(choices=[SelectChoice("", "Any role"), *role_choices()])
    status = Choice(
        choices=[
            SelectChoice("", "Active and deactivated"),
            SelectChoice("active", "Active"),
            SelectChoice("deactivated", "Deactivated"),
        ]
    )
