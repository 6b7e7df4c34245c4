"""Forms of the settings area: the reporting settings, a new closing exception, and the
exceptions list's query string."""

from __future__ import annotations

from datetime import datetime, timedelta

from wtforms import SelectChoice, StringField, TextAreaField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import TextInput

from .. import cycle, rules
from ..conflicts import explain
from ..extensions import db
from ..models import ClosingException, Hospital, ReportingSettings
from ..report_entry import ReportDateField
from ..web import BlankIsMissing, Choice, OrderedForm, WholeNumberInput
from . import queries

# The version a form shows for settings never stored (the defaults): a row saved meanwhile by
# someone else has version 1 or more, so saving these defaults over it is a conflict.
UNSTORED_VERSION = 0


class TimeOfDayField(BlankIsMissing, StringField):
    """A time of day on the 24-hour clock, HH:MM (a time control sends that too)."""

    def __init__(self, label: str, **kwargs):
        super().__init__(label, render_kw={"type": "time", "class": "time"}, **kwargs)

    def process_formdata(self, valuelist):
        self.raw = valuelist[0].strip() if valuelist else ""
        self.data = None
        if not self.raw:
            return
        try:
            self.data = datetime.strptime(self.raw, "%H:%M").time()
        except ValueError:
            raise ValueError(
                f"“{rules.clip(self.raw, 20)}” is not a time of day: write it as hours and "
                "minutes on the 24-hour clock, like 12:00 or 18:30."
            ) from None

    def _value(self) -> str:
        if self.data is not None and not isinstance(self.data, str):
            return self.data.strftime("%H:%M")
        return getattr(self, "raw", "") or ""


class WholeNumberField(WholeNumberInput):
    """A whole number typed in a text box with a numeric keypad, with a plain message."""

    widget = TextInput()

    def __init__(self, label: str, message: str, **kwargs):
        self.message = message
        kwargs.setdefault("render_kw", {"inputmode": "numeric", "autocomplete": "off"})
        super().__init__(label, **kwargs)

    def too_large(self, raw: str) -> str:
        return f"“{rules.clip(raw, 20)}” is too large. {self.message}"

    def not_a_number(self, raw: str) -> str:
        return f"“{rules.clip(raw, 20)}” is not a whole number. {self.message}"


class SettingsForm(OrderedForm):
    deadline_time = TimeOfDayField(
        rules.label("deadline_time"),
        validators=[InputRequired("Enter the time of day reports are due by, like 12:00.")],
        description="Hours and minutes on the 24-hour clock, like 12:00.",
    )
    deadline_day_offset = Choice(
        "Due on",
        choices=[SelectChoice(str(k), v) for k, v in rules.DEADLINE_DAY_OFFSETS.items()],
        validators=[InputRequired("Choose whether reports are due on their day or the next.")],
        description="The day of the deadline, counted from the day the report is about.",
    )
    close_after_days = WholeNumberField(
        rules.label("close_after_days"),
        f"Enter a number of days from 0 to {rules.CLOSE_AFTER_MAX}, or leave it empty.",
        validators=[
            Optional(),
            NumberRange(
                min=0,
                max=rules.CLOSE_AFTER_MAX,
                message=f"Enter a number of days from 0 to {rules.CLOSE_AFTER_MAX}, "
                "or leave it empty so that days never close.",
            ),
        ],
        description="Leave it empty so that days never close. 0 closes every day before today.",
    )

    def __init__(self, *args, settings: ReportingSettings, **kwargs):
        super().__init__(*args, obj=settings, **kwargs)
        if not self.is_submitted():
            self.deadline_day_offset.data = str(settings.deadline_day_offset)
            if settings.version is None:
                self.version.data = UNSTORED_VERSION

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # The page showed the defaults, and someone stored settings since (checked again after
        # a clash at the commit: two administrators saving the first settings at once).
        stored = db.session.get(ReportingSettings, cycle.SETTINGS_ID)
        if valid and stored is not None and self.version.data == UNSTORED_VERSION:
            self.conflict = explain(stored, self.compared_values())
            self.version.data = stored.version
            return False
        return valid

    def day_offset(self) -> int | None:
        return int(self.deadline_day_offset.data) if self.deadline_day_offset.data else None

    def visible_fields(self):
        return [self.deadline_time, self.deadline_day_offset, self.close_after_days]

    def compared_values(self):
        offsets = rules.DEADLINE_DAY_OFFSETS
        return [
            (
                self.deadline_time.label.text,
                lambda s: s.deadline_time.strftime("%H:%M"),
                self.deadline_time._value(),
            ),
            (
                self.deadline_day_offset.label.text,
                lambda s: offsets.get(s.deadline_day_offset),
                offsets.get(self.day_offset()),
            ),
            (
                self.close_after_days.label.text,
                lambda s: s.close_after_days,
                self.close_after_days.data,
            ),
        ]

    def apply(self, settings: ReportingSettings) -> None:
        settings.deadline_time = self.deadline_time.data
        settings.deadline_day_offset = self.day_offset()
        settings.close_after_days = self.close_after_days.data


OPEN_HOURS_DEFAULT, OPEN_HOURS_MAX = 48, 720


class ExceptionForm(OrderedForm):
    hospital = Choice(
        "Hospital",
        validators=[InputRequired("Choose the hospital whose editors may change these days.")],
    )
    date_from = ReportDateField(
        "From", validators=[InputRequired("Enter the first day to open, like 2026-11-01.")]
    )
    date_to = ReportDateField(
        "To",
        validators=[InputRequired("Enter the last day to open, like 2026-11-07.")],
        description="The same day as “From” to open a single day.",
    )
    hours = WholeNumberField(
        "Open for (hours)",
        f"Enter a number of hours from 1 to {OPEN_HOURS_MAX}.",
        default=OPEN_HOURS_DEFAULT,
        validators=[
            InputRequired("Enter for how many hours the days stay open."),
            NumberRange(
                min=1,
                max=OPEN_HOURS_MAX,
                message=f"Enter a number of hours from 1 to {OPEN_HOURS_MAX} (30 days).",
            ),
        ],
        description="Counted from now; afterwards the days close again by themselves. "
        f"At most {OPEN_HOURS_MAX} (30 days).",
    )
    reason = TextAreaField(
        "Reason",
        filters=[rules.strip_or_none],
        validators=[
            DataRequired("Say why these days are opened again (it is kept in the audit trail)."),
            Length(
                max=rules.EXCEPTION_REASON_MAX,
                message=f"Keep the reason to {rules.EXCEPTION_REASON_MAX} characters.",
            ),
        ],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.hospital.choices = [
            SelectChoice("", "Choose…"),
            *(SelectChoice(str(h.id), f"{h.code} — {h.name}") for h in queries.active_hospitals()),
        ]

    def validate_date_from(self, field) -> None:
        for message in rules.report_date_errors(field.data):
            raise ValidationError(message)

    def validate_date_to(self, field) -> None:
        for message in rules.report_date_errors(field.data):
            raise ValidationError(message)
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The last day is before the first day.")

    def visible_fields(self):
        return [self.hospital, self.date_from, self.date_to, self.hours, self.reason]

    def apply(self, exception: ClosingException) -> None:
        # The hospital itself, loaded: the exception's audit entry is labelled with its code.
        exception.hospital = db.session.get(Hospital, int(self.hospital.data))
        exception.date_from = self.date_from.data
        exception.date_to = self.date_to.data
        exception.ends_at = cycle.clock() + timedelta(hours=self.hours.data)
        exception.reason = self.reason.data
