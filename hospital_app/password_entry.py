"""A new password as a form, typed twice and checked against rules.password_errors: for one's
own password (auth/) and for an account's, new or reset by an administrator (accounts/)."""

from __future__ import annotations

from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, ValidationError

from . import rules
from .web import OrderedForm


class NewPasswordForm(OrderedForm):
    """A new password, typed twice, checked against rules.password_errors. `email` is the
    account's, so the password cannot simply repeat it."""

    password = PasswordField(
        "New password",
        validators=[DataRequired("Enter the new password.")],
        description=f"At least {rules.PASSWORD_MIN} characters. A few unrelated words "
        "make a password that is long and easy to remember.",
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "New password, again",
        validators=[
            DataRequired("Type the new password again."),
            EqualTo("password", "The two passwords are not the same; type them again."),
        ],
        render_kw={"autocomplete": "new-password"},
    )

    def __init__(self, *args, email: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.account_email = email

    def validate_password(self, field) -> None:
        if errors := rules.password_errors(field.data or "", self.account_email):
            raise ValidationError(errors[0])

    def visible_fields(self) -> list:
        return [self.password, self.confirm]
