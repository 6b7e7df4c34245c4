"""A daily report as a form: its fields and checks, wherever a report is typed. The report
pages use it (reports/), and so does the new-hospital form, which composes it with the
hospital's own fields for the first report (hospitals/forms.py). The CSV import reads the same
figures with the same rules (rules.py)."""

from __future__ import annotations

from flask_login import current_user
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectChoice,
    SelectField,
    TextAreaField,
)
from wtforms.validators import InputRequired, StopValidation, ValidationError
from wtforms.widgets import TextInput

from . import outliers, rules
from .extensions import db
from .models import FollowUp, Report, utcnow
from .web import BlankIsMissing, OrderedForm, form_values


class CountField(IntegerField):
    """A whole-number count. A text input with a numeric keypad rather than type=number,
    which a scroll wheel silently changes and which drops "1,200" as empty."""

    widget = TextInput()

    def __init__(self, **kwargs):
        super().__init__(
            validators=[InputRequired(rules.COUNT_REQUIRED_MESSAGE)],
            render_kw={"inputmode": "numeric", "autocomplete": "off", "class": "count"},
            **kwargs,
        )

    def process_formdata(self, valuelist):
        if valuelist:
            # The CSV import reads its count cells with the same function.
            self.data = None
            self.data = rules.parse_count(valuelist[0], self.short_name)

    def pre_validate(self, form) -> None:
        # InputRequired passes any non-empty text, white space too; parse_count reads white
        # space alone as nothing typed, as the import does: the same message, not a NULL.
        if self.data is None and not self.process_errors:
            raise StopValidation(rules.COUNT_REQUIRED_MESSAGE)


class ReportDateField(BlankIsMissing, DateField):
    """A date typed as year-month-day (a date picker sends that too), read by the rules'
    own parser, with its message."""

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = None
            self.data = rules.parse_report_date(valuelist[0])


class ReportForm(OrderedForm):
    report_date = ReportDateField(
        rules.label("report_date"),
        validators=[InputRequired(rules.REPORT_DATE_REQUIRED_MESSAGE)],
        default=rules.today,
    )
    beds_total = CountField(label=rules.label("beds_total"))
    beds_occupied = CountField(label=rules.label("beds_occupied"))
    icu_beds_total = CountField(label=rules.label("icu_beds_total"))
    icu_beds_occupied = CountField(label=rules.label("icu_beds_occupied"))
    ventilators_total = CountField(label=rules.label("ventilators_total"))
    ventilators_in_use = CountField(label=rules.label("ventilators_in_use"))
    admissions = CountField(label=rules.label("admissions"))
    discharges = CountField(label=rules.label("discharges"))
    deaths = CountField(label=rules.label("deaths"))
    notes = TextAreaField(
        rules.label("notes"),
        filters=[rules.strip_or_none],
        description="Anything the figures alone do not say (optional).",
    )
    # Whether to ask if a capacity unchanged for long is still correct (the grid does not).
    ask_about_capacity = True
    # Shown only when the figures are far from the hospital's history (outliers.py).
    confirm_outlier = BooleanField("These figures are correct")
    # Why they are, asked with the box (the follow-up list shows it: followup/).
    follow_up_reason = SelectField(
        rules.label("follow_up_reason"),
        choices=[
            SelectChoice("", "Choose a reason…"),
            *(SelectChoice(key, text) for key, text in rules.FOLLOW_UP_REASONS.items()),
        ],
        default="",
    )
    follow_up_note = TextAreaField(
        rules.label("follow_up_note"),
        filters=[rules.strip_or_none],
        description="Needed when the reason is “Other”; optional otherwise.",
    )
    # Whether the confirm step asks why (the report form); the grid confirms without.
    ask_why = True

    def __init__(
        self, *args, hospital_id: int | None = None, report_id: int | None = None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        # Which hospital the report is for (None while the hospital is being created), and
        # which report is being edited: the one-report-per-date check needs both.
        self.hospital_id = hospital_id
        self.report_id = report_id
        self.existing_report_id: int | None = None  # set when the date is taken
        # What is unusual about the figures, once the other rules pass (validate).
        self.outlier_warnings: list[outliers.Unusual] = []
        # Beside each figure, what is unusual about it: the field macro (_forms.html) draws
        # `unusual` as it draws `errors`.
        for name in rules.COUNT_FIELDS:
            self[name].unusual = []
        # The report being edited was confirmed before: the box starts ticked.
        self.was_confirmed = bool(getattr(kwargs.get("obj"), "outlier_confirmed", False))
        if self.was_confirmed and not self.is_submitted():
            self.confirm_outlier.data = True
            stored = db.session.scalar(select(FollowUp).where(FollowUp.report_id == report_id))
            if stored is not None:  # the reason given last time, to keep or change
                self.follow_up_reason.data = stored.reason or ""
                self.follow_up_note.data = stored.note

    def validate_notes(self, field: TextAreaField) -> None:
        for message in rules.notes_errors(field.data):
            raise ValidationError(message)

    def validate_report_date(self, field: DateField) -> None:
        for message in rules.report_date_errors(field.data):
            raise ValidationError(message)
        if self.hospital_id is None or field.data is None:
            return
        clash = select(Report.id).where(
            Report.hospital_id == self.hospital_id,
            Report.report_date == field.data,
        )
        if self.report_id is not None:
            clash = clash.where(Report.id != self.report_id)
        existing = db.session.scalar(clash)
        if existing is not None:
            self.existing_report_id = existing
            raise ValidationError(
                f"This hospital already has a report for {rules.day_text(field.data)}. "
                "Edit that report instead, or choose another date."
            )

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field, messages in rules.report_errors(self.counts()).items():
            getattr(self, field).errors.extend(messages)
            valid = False
        self.outlier_warnings = []
        for name in rules.COUNT_FIELDS:
            self[name].unusual = []
        if valid and self.hospital_id is not None:
            # A first report (the create-hospital form) has no history to be unusual against.
            self.outlier_warnings = outliers.report_warnings(
                self.hospital_id, self.report_date.data, self.counts(), self.report_id
            )
            if self.ask_about_capacity:
                stale = outliers.capacity_warning(
                    self.hospital_id, self.report_date.data, self.counts(), self.report_id
                )
                if stale is not None:
                    self.outlier_warnings.append(stale)
            for warning in self.outlier_warnings:
                for name in warning.fields:
                    self[name].unusual.append(warning.beside)
            if self.outlier_warnings and not self.confirm_outlier.data:
                self.confirm_outlier.errors.append(
                    " ".join(self.outlier_warnings)
                    + " Check these figures; if they are right, tick this box and save again."
                )
                valid = False
            elif self.outlier_warnings and self.ask_why:
                reason, note = self.follow_up_reason.data, self.follow_up_note.data
                for name, messages in rules.follow_up_errors(reason, note).items():
                    self[f"follow_up_{name}"].errors.extend(messages)
                    valid = False
        return valid

    def follow_up_fields(self):
        """The reason and note, on the page with the confirmation box (not on the grid)."""
        return [self.follow_up_reason, self.follow_up_note] if self.ask_why else []

    def counts(self) -> dict[str, int | None]:
        return {field: getattr(self, field).data for field in rules.COUNT_FIELDS}

    def report_fields(self):
        return [self[name] for name in rules.REPORT_FORM_FIELDS]

    def compared_values(self):
        return form_values(self.report_fields())

    def awaiting_confirmation(self):
        """The confirmation box, when it alone stops the report being saved: unusual figures
        not confirmed yet. The error summary then shows a warning, not an error."""
        if self.outlier_warnings and self.confirm_outlier.errors:
            return self.confirm_outlier
        return None

    def outlier_fields(self):
        """The confirmation box (and why), on the page only when there is something to
        confirm."""
        shown = self.outlier_warnings or self.was_confirmed
        return [self.confirm_outlier, *self.follow_up_fields()] if shown else []

    def visible_fields(self):
        """The fields in the order the page shows them (the error summary follows it)."""
        return self.report_fields() + self.outlier_fields()

    def focus_field(self):
        """The first field to correct; else the first figure still to be typed (a new report
        starts with its day and capacity filled in); else the day's first figure. The date
        stays one Shift+Tab away, out of the way of the figures."""
        shown = self.visible_fields()
        to_correct = next((f for f in shown if f.errors), None)
        if to_correct is not None:
            return to_correct
        figures = [self[name] for name in (*rules.DAY_FIGURES, *rules.CAPACITY_FIELDS)]
        return next((f for f in figures if f.data is None), figures[0])

    def apply_report(self, report: Report) -> None:
        for field in self.report_fields():
            # short_name: a form with a prefix (a row of the entry grid) names its inputs
            # h12-beds_total, but the column is still beds_total.
            setattr(report, field.short_name, field.data)
        # Called after validate(): warnings left now were confirmed. Figures that are usual
        # (again) clear the mark.
        report.outlier_confirmed = bool(self.outlier_warnings)
        report.outlier_note = outliers.outlier_note(self.outlier_warnings)
        self._apply_follow_up(report)

    def _apply_follow_up(self, report: Report) -> None:
        """The report's follow-up row, in the same transaction: (re)opened with this
        confirmation; gone when the figures are usual again (nothing left to follow up)."""
        stored = None
        if report.id is not None:
            # No autoflush: saving.py tells a change from none by what is still unflushed.
            with db.session.no_autoflush:
                stored = db.session.scalar(select(FollowUp).where(FollowUp.report_id == report.id))
        if not self.outlier_warnings:
            if stored is not None:
                db.session.delete(stored)
            return
        follow_up = stored or FollowUp(report=report)
        follow_up.fields = ",".join(
            dict.fromkeys(name for w in self.outlier_warnings for name in w.fields)
        )
        follow_up.reason = self.follow_up_reason.data or None if self.ask_why else None
        follow_up.note = self.follow_up_note.data if self.ask_why else None
        follow_up.confirmed_by_id = current_user.id if current_user.is_authenticated else None
        follow_up.confirmed_at = utcnow()
        # An edited report is open again: a sent-back one is answered by the edit.
        follow_up.status = "open"
        follow_up.reviewer_id = None
        follow_up.comment = None
        follow_up.checked_at = None
        if stored is None:
            db.session.add(follow_up)
