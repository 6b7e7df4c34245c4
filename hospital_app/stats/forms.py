"""The statistics report form: its fields are the columns of hospital_stats."""

from __future__ import annotations

from sqlalchemy import select
from wtforms import BooleanField, DateField, IntegerField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError
from wtforms.widgets import TextInput

from .. import rules
from ..extensions import db
from ..models import HospitalStats
from ..web import OrderedForm
from . import outliers


def strip_or_none(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


class CountField(IntegerField):
    """A whole-number count. A text input with a numeric keypad rather than type=number,
    which a scroll wheel silently changes and which drops "1,200" as empty."""

    widget = TextInput()

    def __init__(self, label: str, **kwargs):
        super().__init__(
            label,
            validators=[InputRequired(rules.COUNT_REQUIRED_MESSAGE)],
            render_kw={"inputmode": "numeric", "autocomplete": "off", "class": "count"},
            **kwargs,
        )

    def process_formdata(self, valuelist):
        if valuelist:
            # The CSV import reads its count cells with the same function.
            self.data = None
            self.data = rules.parse_count(valuelist[0], self.label.text)


class ReportDateField(DateField):
    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(rules.REPORT_DATE_MESSAGE) from None


class StatsForm(OrderedForm):
    report_date = ReportDateField(
        "Report date",
        validators=[InputRequired("Enter the date the figures are for.")],
        default=rules.today,
    )
    beds_total = CountField(rules.COUNT_FIELDS["beds_total"])
    beds_occupied = CountField(rules.COUNT_FIELDS["beds_occupied"])
    icu_beds_total = CountField(rules.COUNT_FIELDS["icu_beds_total"])
    icu_beds_occupied = CountField(rules.COUNT_FIELDS["icu_beds_occupied"])
    ventilators_total = CountField(rules.COUNT_FIELDS["ventilators_total"])
    ventilators_in_use = CountField(rules.COUNT_FIELDS["ventilators_in_use"])
    admissions = CountField(rules.COUNT_FIELDS["admissions"])
    discharges = CountField(rules.COUNT_FIELDS["discharges"])
    deaths = CountField(rules.COUNT_FIELDS["deaths"])
    notes = TextAreaField(
        "Notes",
        filters=[strip_or_none],
        validators=[
            Optional(),
            Length(max=rules.NOTES_MAX, message=f"Keep notes to {rules.NOTES_MAX:,} characters."),
        ],
        description="Anything the figures alone do not say (optional).",
    )
    # Shown only when the figures are far from the hospital's history (stats/outliers.py).
    confirm_outlier = BooleanField("These figures are correct")

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
        self.outlier_warnings: list[str] = []
        # The report being edited was confirmed before: the box starts ticked.
        self.was_confirmed = bool(getattr(kwargs.get("obj"), "outlier_confirmed", False))
        if self.was_confirmed and not self.is_submitted():
            self.confirm_outlier.data = True

    def validate_report_date(self, field: DateField) -> None:
        for message in rules.report_date_errors(field.data):
            raise ValidationError(message)
        if self.hospital_id is None or field.data is None:
            return
        clash = select(HospitalStats.id).where(
            HospitalStats.hospital_id == self.hospital_id,
            HospitalStats.report_date == field.data,
        )
        if self.report_id is not None:
            clash = clash.where(HospitalStats.id != self.report_id)
        existing = db.session.scalar(clash)
        if existing is not None:
            self.existing_report_id = existing
            raise ValidationError(
                f"This hospital already has a report for {field.data.isoformat()}. "
                "Edit that report instead, or choose another date."
            )

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field, messages in rules.report_errors(self.counts()).items():
            getattr(self, field).errors.extend(messages)
            valid = False
        self.outlier_warnings = []
        if valid and self.hospital_id is not None:
            # A first report (the create-hospital form) has no history to be unusual against.
            self.outlier_warnings = outliers.report_warnings(
                self.hospital_id, self.report_date.data, self.counts(), self.report_id
            )
            if self.outlier_warnings and not self.confirm_outlier.data:
                self.confirm_outlier.errors.append(
                    " ".join(self.outlier_warnings)
                    + " Check these figures; if they are right, tick this box and save again."
                )
                valid = False
        return valid

    def counts(self) -> dict[str, int | None]:
        return {field: getattr(self, field).data for field in rules.COUNT_FIELDS}

    def report_fields(self):
        return [self[name] for name in ("report_date", *rules.COUNT_FIELDS, "notes")]

    def outlier_fields(self):
        """The confirmation box, on the page only when there is something to confirm."""
        shown = self.outlier_warnings or self.was_confirmed
        return [self.confirm_outlier] if shown else []

    def visible_fields(self):
        """The fields in the order the page shows them (the error summary follows it)."""
        return self.report_fields() + self.outlier_fields()

    def apply_report(self, report: HospitalStats) -> None:
        for field in self.report_fields():
            setattr(report, field.name, field.data)
        # Called after validate(): warnings left now were confirmed. Figures that are usual
        # (again) clear the mark.
        report.outlier_confirmed = bool(self.outlier_warnings)
        report.outlier_note = outliers.outlier_note(self.outlier_warnings)
