"""What every area's views and forms share: redirects, status codes, the base forms and the
fields of the lists' query strings."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import date

from flask import abort, current_app, flash, g, has_request_context, redirect, request, url_for
from flask_sqlalchemy.pagination import Pagination
from flask_wtf import FlaskForm
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.routing import BaseConverter
from werkzeug.routing import ValidationError as NoMatch
from wtforms import Field, Form, HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional, StopValidation, ValidationError

from . import rules
from .conflicts import Compared, Conflict
from .extensions import db
from .saving import Outcome
from .templating import conflict_message, known_args


def see_other(endpoint: str, **values):
    """Post/redirect/get: 303 tells the browser to follow with a GET."""
    return redirect(url_for(endpoint, **values), code=303)


def form_status(form) -> int:
    """200 for a fresh form; 409 when someone else's change got in first; 422 when invalid."""
    if not form.is_submitted():
        return 200
    return 409 if form.conflict is not None else 422


def list_status(page) -> int:
    """A list page whose query string could not be used (page is None) is a 400."""
    return 200 if page is not None else 400


def export_args() -> dict:
    """This list's query string (the names it reads) without its page: an export holds every
    page."""
    return {k: v for k, v in known_args().items() if k != "page"}


class IdConverter(BaseConverter):
    """`<int:…>` in every route: a record's id, 1 to rules.ID_MAX in ASCII digits. Anything
    else (0, 2^31, 5,000 digits, "٣") matches no route: a 404, before any query. The app
    factory installs it in place of werkzeug's int, which takes any length and any script's
    digits."""

    regex = r"[1-9][0-9]{0,9}"
    weight = 50
    part_isolating = True

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > rules.ID_MAX:
            raise NoMatch()
        return number

    def to_url(self, value) -> str:
        return str(int(value))


# --- Characters no field may hold -------------------------------------------------------------


def _text_rule(form, field) -> None:
    """rules.text_errors() on what was sent for `field` (before any filter changed it); its
    message stops the field's other checks, so no query ever sees the text."""
    for raw in field.raw_data or ():
        if isinstance(raw, str):
            for message in rules.text_errors(raw, field.label.text or field.short_name):
                raise StopValidation(message)


class TextRules:
    """Mixed into every form base (FlaskForm's and plain Form's): every field of every form
    checks the characters it was sent first (rules.text_errors)."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            field = super().bind_field(form, unbound_field, options)
            field.validators = [_text_rule, *field.validators]
            return field


class CheckedForm(TextRules, FlaskForm):
    """A form that is posted (with its CSRF token): the base of every such form."""


class CheckedArgs(TextRules, Form):
    """A query string read as a form (no CSRF token: a GET changes nothing). Its field names
    are the names the page's links may carry on (templating.known_args)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if has_request_context():
            g.setdefault("query_names", set()).update(field.name for field in self)


ADDRESS_MESSAGE = (
    "The address this request came from is not an IP address (check the proxy's "
    "X-Forwarded-For header and the PROXY_COUNT setting)."
)


def check_query_string() -> None:
    """A 400 with the reason when a name or value of the query string holds a character no
    text may hold (rules.text_errors), or when the client's address (which sign-in
    throttling stores; ProxyFix reads it from X-Forwarded-For) is not an IP address. Run
    before every view (the app factory's before_request), so that no parser, query or
    streamed export ever sees such a value."""
    address = request.remote_addr
    if address:  # none at all (a Unix socket) is left to the code that reads it
        try:
            ipaddress.ip_address(address)
        except ValueError:
            abort(400, description=ADDRESS_MESSAGE)
    for key, values in request.args.lists():
        # The name as typed, its unprintable characters spelled out (\x00).
        shown = rules.clip(key.encode("unicode_escape").decode("ascii"), 30)
        for text in (key, *values):
            for message in rules.text_errors(text, f"The query parameter “{shown}”"):
                abort(400, description=message)


# --- Request bodies that cannot be read -------------------------------------------------------

BODY_MESSAGE = (
    "What your browser sent could not be read (it was cut short or wrongly encoded). "
    "Go back and send it again."
)


class _GuardedInput:
    """A request's wsgi.input whose read errors are the client's: werkzeug's BadRequest
    (a 400 page) instead of the server's (gunicorn's InvalidChunkSize, ChunkMissingTerminator,
    NoMoreData …, or an OSError of a dropped connection, which reach the 500 page)."""

    def __init__(self, stream):
        self._stream = stream

    def _guarded(self, read, *args):
        try:
            return read(*args)
        except HTTPException:
            raise
        except Exception as error:  # every server's own classes: gunicorn's, OSError …
            raise BadRequest(BODY_MESSAGE) from error

    def read(self, *args):
        return self._guarded(self._stream.read, *args)

    def readline(self, *args):
        return self._guarded(self._stream.readline, *args)

    def readlines(self, *args):
        return self._guarded(self._stream.readlines, *args)

    def __iter__(self):
        return iter(self.readline, b"")

    def __getattr__(self, name):
        return getattr(self._stream, name)


class GuardedBody:
    """WSGI middleware (the app factory wraps the app in it): every request body is read
    through _GuardedInput, so a malformed one is a 400, whoever serves the app."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("wsgi.input") is not None:
            environ["wsgi.input"] = _GuardedInput(environ["wsgi.input"])
        return self.wsgi_app(environ, start_response)


# --- Forms that change a record --------------------------------------------------------------


class VersionField(HiddenField):
    """The version of the record when the form was opened. Empty on forms that create."""

    def process_formdata(self, valuelist):
        raw = valuelist[0].strip() if valuelist else ""
        try:
            self.data = int(raw) if raw else None
        except ValueError:
            self.data = None
            raise ValueError("This form was damaged in transit: reload the page.") from None

    def _value(self) -> str:
        return "" if self.data is None else str(self.data)


class VersionedForm(CheckedForm):
    """A form that sends back the version of the record its page showed (conflicts.py).

    `conflict` is set (by saving.py) when someone else changed the record first; the page
    then shows who and what differs, with the status 409."""

    version = VersionField()
    conflict: Conflict | None = None

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # The version is hidden: its error goes to the top of the form, where it is seen.
        self.form_errors.extend(self.version.errors)
        return valid

    def compared_values(self) -> list[Compared]:
        """What a conflict shows beside the stored record: none, unless a form says."""
        return []


def form_values(fields: Sequence[Field]) -> list[Compared]:
    """Conflict values of plain column fields: label, stored value, value in the form."""
    return [(f.label.text, _getter(f.name), f.data) for f in fields]


def _getter(name: str):
    return lambda record: getattr(record, name)


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


def flash_toggle(form, outcome: Outcome, saved: str, unchanged: str, conflict_hint: str) -> None:
    """Say on the next page how an action button (saving.toggle) ended: `saved`, `unchanged`
    (the record was in that state already), or what stopped it."""
    if outcome is Outcome.SAVED:
        flash(saved, "success")
    elif outcome is Outcome.UNCHANGED:
        flash(unchanged, "info")
    else:
        flash(action_problem(form, conflict_hint), "error")


def action_problem(form: VersionedForm, conflict_hint: str) -> str:
    """Why an action button changed nothing, for the flash message of the page it returns to:
    someone else's change (and `conflict_hint`, what to do now), or the form's own errors."""
    if form.conflict is not None:
        return f"{conflict_message(form.conflict)} {conflict_hint}"
    return f"{' '.join(form.form_errors)} Nothing was changed."


# --- The lists' query strings ----------------------------------------------------------------


class BlankIsMissing:
    """For a field whose reader takes white space alone as nothing typed (data None): when the
    field is required, white space alone gets the required message, as an empty field does.
    InputRequired alone passes any non-empty text, and the None would reach the database as
    NULL (a 500). Mixed into the date and time-of-day fields."""

    def pre_validate(self, form) -> None:
        if self.data is None and not self.process_errors:
            for validator in self.validators:
                if isinstance(validator, InputRequired):
                    raise StopValidation(validator.message)
        super().pre_validate(form)


class Choice(SelectField):
    """A select whose wrong value (say, from a hand-edited query string) gets a message."""

    def pre_validate(self, form) -> None:
        if (self.data or "") not in {str(value) for value, *_ in self.choices}:
            raise ValidationError(f"“{self.data}” is not one of the choices.")


class RegionFilter(StringField):
    """?region=, one of `form.regions` (the stored spellings). A region typed in another case
    becomes its stored spelling, so the query compares it exactly and can use the region
    index instead of lower(region) over every row."""

    def __init__(self, label: str = "Region", **kwargs):
        super().__init__(
            label,
            filters=[rules.normalise_space],
            validators=[Length(max=rules.REGION_MAX)],
            **kwargs,
        )

    def post_validate(self, form, validation_stopped: bool) -> None:
        if validation_stopped or self.errors or not self.data:
            return
        stored = next((r for r in form.regions if r.lower() == self.data.lower()), None)
        if stored is None:
            self.errors.append(f"No hospital is in the region “{self.data}”.")
        else:
            self.data = stored


class DayArg(StringField):
    """?date=, a report's day: today when absent, else checked by the rules of a report's
    date (not in the future, not before 2000), with their messages. `day` is what it means."""

    day: date

    def __init__(self, label: str = "Day", **kwargs):
        super().__init__(label, **kwargs)

    def pre_validate(self, form) -> None:
        self.day = rules.today()
        try:
            day = rules.parse_report_date(self.data)
        except ValueError as error:
            raise StopValidation(str(error)) from None
        if day is not None:
            for message in rules.report_date_errors(day):
                raise StopValidation(message)
            self.day = day


class WholeNumberInput(IntegerField):
    """A whole number read by the rules' reader (ASCII digits), so "abc", "٣" and a
    5,000-digit number each get the field's own message, not Python's. Subclasses say what
    to tell for a number too large and for text that is no number."""

    def too_large(self, raw: str) -> str:
        raise NotImplementedError

    def not_a_number(self, raw: str) -> str:
        raise NotImplementedError

    def process_formdata(self, valuelist):
        self.data = None
        raw = valuelist[0].strip() if valuelist else ""
        if not raw:
            return
        try:
            self.data = rules.read_whole_number(raw)
        except rules.TooLarge:
            raise ValueError(self.too_large(raw)) from None
        except ValueError:
            raise ValueError(self.not_a_number(raw)) from None

    def pre_validate(self, form) -> None:
        # Not a number: that message alone, not the range's as well.
        if self.process_errors:
            raise StopValidation()


class PageField(WholeNumberInput):
    """?page=N: a message (a 400) for anything that is not a page number."""

    PAGE_MAX = 10**6
    TOO_SMALL = "Page numbers start at 1."
    TOO_LARGE = f"There are not that many pages: page numbers go up to {PAGE_MAX:,} at most."

    def __init__(self, label: str = "Page", **kwargs):
        super().__init__(label, default=1, validators=[Optional()], **kwargs)

    def too_large(self, raw: str) -> str:
        return self.TOO_LARGE

    def not_a_number(self, raw: str) -> str:
        return f"“{rules.clip(raw, 20)}” is not a page number: write a whole number, like 2."

    def pre_validate(self, form) -> None:
        super().pre_validate(form)
        if self.data is not None and self.data < 1:
            raise StopValidation(self.TOO_SMALL)
        if self.data is not None and self.data > self.PAGE_MAX:
            raise StopValidation(self.TOO_LARGE)


class PageArgs(CheckedArgs):
    """?page=N, checked: a page number that is not one gets a message, not a 500. Plain
    Form: a GET changes nothing, so it needs no CSRF token."""

    page = PageField()

    def page_number(self) -> int:
        return self.page.data or 1

    def paginate(self, stmt, total: int | None = None):
        """The page of `stmt` these arguments ask for; past the last page, an empty one.
        `total`: how many rows `stmt` selects, when the caller knows it already (read from
        the daily sums), so they are not counted again."""
        if total is None:
            return db.paginate(
                stmt, page=self.page_number(), per_page=self.per_page(), error_out=False
            )
        shown = stmt.limit(self.per_page()).offset((self.page_number() - 1) * self.per_page())
        return self.page_of(list(db.session.execute(shown).unique().scalars()), total)

    def per_page(self) -> int:
        return current_app.config["PER_PAGE"]

    def page_of(self, items: list, total: int):
        """The page these arguments ask for, from its `items` and the list's `total` as the
        caller read them: for a list that reads both in one statement instead of
        paginate()'s two."""
        return ReadPage(
            page=self.page_number(),
            per_page=self.per_page(),
            max_per_page=None,
            error_out=False,
            items=items,
            total=total,
        )


class ReadPage(Pagination):
    """A page whose items and total its caller read (PageArgs.page_of): the same page
    object (first, last, pages, iter_pages …) the templates know from db.paginate."""

    def _query_items(self) -> list:
        return self._query_args["items"]

    def _query_count(self) -> int:
        return self._query_args["total"]
