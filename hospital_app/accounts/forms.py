"""Forms of the accounts pages: an account's details, a new account (details and its first
password), and the list's filters. Their rules are checks.check_account, which
`flask create-user` uses too."""

from __future__ import annotations

from wtforms import EmailField, SelectChoice, StringField, TextAreaField
from wtforms.validators import DataRequired

from .. import rules
from ..models import Account, Hospital, utcnow
from ..password_entry import NewPasswordForm
from ..web import Choice, OrderedForm, PageArgs, form_values
from .checks import check_account, parse_codes


def role_choices() -> list[SelectChoice]:
    return [SelectChoice(key, label) for key, label in rules.ROLES.items()]


def role_help() -> str:
    return " ".join(f"{rules.ROLES[key]}: {text}." for key, text in rules.ROLE_HELP.items())


class AccountForm(OrderedForm):
    """An account's details. `account` is the one being edited (None when creating), `me`
    the administrator filling the form in."""

    email = EmailField(
        rules.label("email"),
        filters=[rules.normalise_email],
        validators=[DataRequired("Enter the person's email address.")],
        description="They sign in with it. Stored in lower case.",
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"},
    )
    display_name = StringField(
        rules.label("display_name"),
        filters=[rules.normalise_space],
        validators=[DataRequired("Enter the person's name.")],
        description="As shown at the top of each page and in the audit trail.",
        render_kw={"autocomplete": "off"},
    )
    role = Choice(
        rules.label("role"),
        choices=[SelectChoice("", "Choose…"), *role_choices()],
        validators=[DataRequired("Choose what the account may do.")],
        description=role_help(),
    )
    hospital_codes = TextAreaField(
        "Hospital codes",
        description="Editors only: the facility codes of the hospitals whose reports they "
        "may enter and change, separated by commas, spaces or new lines, e.g. NRH-001, SGH-002.",
        render_kw={"rows": 3, "spellcheck": "false", "autocapitalize": "characters"},
    )

    def __init__(self, *args, account: Account | None = None, me: Account | None = None, **kw):
        if account is not None:
            kw.setdefault("hospital_codes", ", ".join(h.code for h in account.hospitals))
        super().__init__(*args, obj=account, **kw)
        self.account = account
        self.me = me
        self.hospitals: list[Hospital] = []  # filled in by validation

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.email.errors or self.display_name.errors or self.role.errors:
            return False
        checked = check_account(
            self.email.data,
            self.display_name.data,
            self.role.data,
            parse_codes(self.hospital_codes.data),
            account=self.account,
            me=self.me,
        )
        self.hospitals = checked.hospitals
        for name, messages in checked.errors.items():
            # The hospitals are typed as their codes, in one box.
            field = self.hospital_codes if name == "hospitals" else self[name]
            field.errors.extend(messages)
        return valid and not checked.errors

    def account_fields(self) -> list:
        return [self.email, self.display_name, self.role, self.hospital_codes]

    def visible_fields(self) -> list:
        return self.account_fields()

    def compared_values(self) -> list:
        """What a conflict shows beside the stored account."""
        return [
            *form_values([self.email, self.display_name, self.role]),
            (
                self.hospital_codes.label.text,
                lambda account: sorted(h.code for h in account.hospitals),
                sorted(h.code for h in self.hospitals),
            ),
        ]

    def apply(self, account: Account) -> None:
        account.email = self.email.data
        account.display_name = self.display_name.data
        account.role = self.role.data
        # Replaced only when it differs, so an unchanged list is not an edit.
        if {h.id for h in account.hospitals} != {h.id for h in self.hospitals}:
            account.hospitals = list(self.hospitals)
            # The assignments live in another table: touch the account's row too, so its
            # version rises and two administrators editing it at once cannot both win.
            account.updated_at = utcnow()


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
    """The list's query string."""

    role = Choice(choices=[SelectChoice("", "Any role"), *role_choices()])
    status = Choice(
        choices=[
            SelectChoice("", "Active and deactivated"),
            SelectChoice("active", "Active"),
            SelectChoice("deactivated", "Deactivated"),
        ]
    )
