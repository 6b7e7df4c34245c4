"""Forms of signing in and of changing one's own password."""

from __future__ import annotations

from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from .. import rules
from ..password_entry import NewPasswordForm
from ..web import OrderedForm


class LoginForm(OrderedForm):
    email = EmailField(
        "Email",
        filters=[rules.normalise_email],
        validators=[DataRequired("Enter your email address.")],
        render_kw={"autocomplete": "username", "spellcheck": "false", "autocapitalize": "none"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password.")],
        render_kw={"autocomplete": "current-password"},
    )

    def visible_fields(self) -> list:
        return [self.email, self.password]


class ChangePasswordForm(NewPasswordForm):
    """A person changing their own password: the current one proves it is them."""

    current = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password.")],
        render_kw={"autocomplete": "current-password"},
    )

    def visible_fields(self) -> list:
        return [self.current, self.password, self.confirm]
