"""Small helpers every blueprint's views share."""

from __future__ import annotations

from flask import current_app, redirect, url_for
from flask_wtf import FlaskForm
from wtforms import Form, IntegerField, SelectField
from wtforms.validators import NumberRange, Optional, ValidationError

from .conflicts import VersionField
from .extensions import db


def see_other(endpoint: str, **values):
    """Post/redirect/get: 303 tells the browser to follow with a GET."""
    return redirect(url_for(endpoint, **values), code=303)


def form_status(form: FlaskForm) -> int:
    """200 for a fresh form; 409 when someone else's change got in first (commit_form marks
    the form); 422 when invalid."""
    if not form.is_submitted():
        return 200
    return 409 if getattr(form, "conflict", False) else 422


class VersionedForm(FlaskForm):
    """A form that sends back the version of the record its page showed (conflicts.py)."""

    version = VersionField()

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # The version is hidden: its error goes to the top of the form, where it is seen.
        self.form_errors.extend(self.version.errors)
        return valid


class OrderedForm(VersionedForm):
    """A record form that knows the order its page shows the fields in: the error summary
    follows it, and the cursor starts in the first field to correct, else the first field."""

    def visible_fields(self) -> list:
        raise NotImplementedError

    def focus_field(self):
        shown = self.visible_fields()
        return next((f for f in shown if f.errors), shown[0])


class ActionForm(VersionedForm):
    """A button that changes something (archive, restore, delete): the CSRF token and the
    version of the record the page showed."""


class Choice(SelectField):
    """A select whose wrong value (say, from a hand-edited query string) gets a message."""

    def pre_validate(self, form) -> None:
        if (self.data or "") not in {str(value) for value, *_ in self.choices}:
            raise ValidationError(f"“{self.data}” is not one of the choices.")


class PageArgs(Form):
    """?page=N, checked: a page number that is not one gets a message, not a 500."""

    page = IntegerField(
        default=1,
        validators=[Optional(), NumberRange(min=1, max=10**6, message="Page numbers start at 1.")],
    )

    def page_number(self) -> int:
        return self.page.data or 1

    def paginate(self, stmt):
        """The page of `stmt` these arguments ask for; past the last page, an empty one."""
        return db.paginate(
            stmt,
            page=self.page_number(),
            per_page=current_app.config["PER_PAGE"],
            error_out=False,
        )
