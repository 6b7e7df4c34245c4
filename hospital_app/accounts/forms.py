"""Forms of the accounts pages: an account's details, a new account (details and its first
password), and the list's filters. Their rules are checks.check_account, which
`flask create-user` uses too."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    EmailField,
    SearchField,
    SelectChoice,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from .. import rules
from ..hospitals.queries import regions_in_use
from ..models import Account, AccountRegion, Hospital, utcnow
from ..password_entry import NewPasswordForm
from ..web import Choice, OrderedForm, PageArgs, form_values
from . import queries
from .checks import check_account, unique_codes


class HospitalChoice(SelectMultipleField):
    """Hospitals picked by ticking them, one checkbox each, its value the facility code.
    A code that is not among the boxes (a hospital archived or recoded since the page was
    drawn) is left to check_account, which says which one it is."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form) -> None:
        pass


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
    hospital_codes = HospitalChoice(
        "Hospitals",
        description="Editors only: tick the hospitals whose reports they may enter and change.",
    )
    region_names = HospitalChoice(
        rules.label("regions"),
        description="Reviewers only: tick the regions whose reports they check and sign off.",
    )
    all_regions = BooleanField(
        "All regions",
        description="Reviewers only: every region, those of hospitals registered later too.",
    )

    def __init__(self, *args, account: Account | None = None, me: Account | None = None, **kw):
        assigned = list(account.hospitals) if account is not None else []
        if account is not None:
            kw.setdefault("hospital_codes", [h.code for h in assigned])
            kw.setdefault("region_names", account.regions)
        super().__init__(*args, obj=account, **kw)
        self.account = account
        self.me = me
        self.hospitals: list[Hospital] = []  # filled in by validation
        # Hospitals an editor's new role took away (the view names them); filled in by validation.
        self.unassigned: list[str] = []
        # The assigned ones first, then every other active hospital: what an editor is likely
        # to keep is at hand, and the rest is one tick away.
        self.hospital_codes.choices = [
            SelectChoice(h.code, f"{h.code} — {h.name} ({h.region})")
            for h in queries.assignable_hospitals(assigned)
        ]
        kept = account.regions if account is not None else []
        self.region_names.choices = [
            SelectChoice(r, r) for r in sorted(set(regions_in_use()) | set(kept))
        ]
        self.regions: list[str] = []  # filled in by validation

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.email.errors or self.display_name.errors or self.role.errors:
            return False
        codes = unique_codes(self.hospital_codes.data or [])
        if (
            self.account is not None
            and self.account.role == "editor"
            and self.role.data != "editor"
        ):
            # Only editors have hospitals: a new role takes them away rather than being
            # refused, and the page says which.
            self.unassigned = sorted(h.code for h in self.account.hospitals)
            codes = []
        regions, all_regions = self.region_names.data or [], self.all_regions.data
        if (
            self.account is not None
            and self.account.role == "reviewer"
            and self.role.data != ("reviewer")
        ):
            # Likewise only reviewers have regions.
            regions, all_regions = [], False
        checked = check_account(
            self.email.data,
            self.display_name.data,
            self.role.data,
            codes,
            account=self.account,
            me=self.me,
            regions=regions,
            all_regions=all_regions,
        )
        self.hospitals = checked.hospitals
        self.regions = checked.regions
        self.all_regions.data = all_regions
        fields = {"hospitals": self.hospital_codes, "regions": self.region_names}
        for name, messages in checked.errors.items():
            # The hospitals are ticked by their codes, the regions by their names.
            (fields.get(name) or self[name]).errors.extend(messages)
        return valid and not checked.errors

    def account_fields(self) -> list:
        return [
            self.email,
            self.display_name,
            self.role,
            self.hospital_codes,
            self.region_names,
            self.all_regions,
        ]

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
        account.all_regions = bool(self.all_regions.data)
        if set(account.regions) != set(self.regions):
            kept = {row.region: row for row in account.region_rows}
            account.region_rows = [kept.get(r) or AccountRegion(region=r) for r in self.regions]
            account.updated_at = utcnow()  # as for the hospitals


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

    q = SearchField(
        "Name or email",
        filters=[rules.normalise_space],
        validators=[Length(max=200, message="Search with at most 200 characters.")],
    )
    role = Choice(choices=[SelectChoice("", "Any role"), *role_choices()])
    status = Choice(
        choices=[
            SelectChoice("", "Active and deactivated"),
            SelectChoice("active", "Active"),
            SelectChoice("deactivated", "Deactivated"),
        ]
    )
