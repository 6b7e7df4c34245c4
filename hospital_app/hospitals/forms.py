"""Forms of the hospitals area: the hospital form, the new-hospital form (the hospital and its
first report, composed of the hospital form and the report form) and the list's filters."""

from __future__ import annotations

from sqlalchemy import func, select
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from .. import rules
from ..extensions import db
from ..models import Hospital
from ..report_entry import ReportForm
from ..web import Choice, OrderedForm, PageArgs, RegionFilter, form_values


def ownership_choices() -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in rules.OWNERSHIP.items()]


class HospitalForm(OrderedForm):
    code = StringField(
        rules.label("code"),
        filters=[rules.normalise_code],
        validators=[DataRequired(rules.CODE_REQUIRED_MESSAGE)],
        description=f"{rules.CODE_MIN}–{rules.CODE_MAX} letters, digits or hyphens, e.g. NRH-001. "
        "Stored in capitals.",
        render_kw={"autocapitalize": "characters", "spellcheck": "false", "autocomplete": "off"},
    )
    name = StringField(
        rules.label("name"),
        filters=[rules.normalise_space],
        validators=[
            DataRequired("Enter the hospital's name."),
            Length(max=rules.NAME_MAX, message=f"Keep the name to {rules.NAME_MAX} characters."),
        ],
    )
    region = StringField(
        rules.label("region"),
        filters=[rules.normalise_space],
        validators=[
            DataRequired("Enter the region."),
            Length(
                max=rules.REGION_MAX, message=f"Keep the region to {rules.REGION_MAX} characters."
            ),
        ],
        description="Choose a region already in use, or type a new one.",
        render_kw={"list": "regions", "autocomplete": "off"},
    )
    city = StringField(
        rules.label("city"),
        filters=[rules.normalise_space, rules.strip_or_none],
        validators=[
            Optional(),
            Length(max=rules.CITY_MAX, message=f"Keep the city to {rules.CITY_MAX} characters."),
        ],
    )
    ownership = SelectField(
        rules.label("ownership"),
        choices=[SelectChoice("", "Choose…"), *ownership_choices()],
        validators=[DataRequired("Choose who owns the hospital.")],
    )

    def __init__(self, *args, hospital: Hospital | None = None, **kwargs):
        super().__init__(*args, obj=hospital, **kwargs)
        self.hospital = hospital  # the one being edited; None when creating

    def validate_code(self, field: StringField) -> None:
        for message in rules.code_errors(field.data):
            raise ValidationError(message)
        clash = select(Hospital).where(Hospital.code == field.data)
        if self.hospital is not None:
            clash = clash.where(Hospital.id != self.hospital.id)
        other = db.session.scalar(clash)
        if other is not None:
            raise ValidationError(
                f"The code {field.data} is already used by {other.name}"
                f"{'' if other.is_active else ' (archived)'}. Each hospital needs its own code."
            )

    def validate_region(self, field: StringField) -> None:
        # 'north' typed where 'North' exists is the same region: keep one spelling.
        same = db.session.scalar(
            select(Hospital.region)
            .where(func.lower(Hospital.region) == field.data.lower())
            .limit(1)
        )
        if same:
            field.data = same

    def visible_fields(self):
        return [self.code, self.name, self.region, self.city, self.ownership]

    def compared_values(self):
        return form_values(self.visible_fields())

    def apply(self, hospital: Hospital) -> None:
        for field in self.visible_fields():
            setattr(hospital, field.name, field.data)


class NewHospitalForm:
    """A new hospital and its first report, saved together or not at all: the hospital form
    and the report form on one page, posted together (their field names do not overlap).
    It answers what the page and saving.save() ask of a form."""

    conflict = None  # a new record has nobody else's change to conflict with

    def __init__(self):
        self.hospital = HospitalForm()
        # No hospital yet: no history to be unusual against, no other report on its date.
        self.report = ReportForm()
        self.csrf_token = self.hospital.csrf_token
        self.version = self.hospital.version

    def is_submitted(self) -> bool:
        return self.hospital.is_submitted()

    def validate(self) -> bool:
        # Both, so that every wrong field is shown at once.
        valid = self.hospital.validate()
        return self.report.validate() and valid

    def validate_on_submit(self) -> bool:
        return self.is_submitted() and self.validate()

    @property
    def form_errors(self) -> list[str]:
        return [*self.hospital.form_errors, *self.report.form_errors]

    def visible_fields(self) -> list:
        return self.hospital.visible_fields() + self.report.report_fields()

    def focus_field(self):
        shown = self.visible_fields()
        return next((f for f in shown if f.errors), shown[0])

    def compared_values(self) -> list:
        return []


class ListFilters(PageArgs):
    """The list's query string (also the CSV export's). `regions` are the stored spellings
    (queries.regions_in_use())."""

    q = StringField("Name or code", filters=[rules.normalise_space], validators=[Length(max=200)])
    region = RegionFilter()
    ownership = Choice(choices=[SelectChoice("", "Any ownership"), *ownership_choices()])
    status = Choice(
        choices=[
            SelectChoice("active", "Active"),
            SelectChoice("archived", "Archived"),
            SelectChoice("all", "Active and archived"),
        ],
        default="active",
    )
    # "name" ascending, "-name" descending; likewise code, region and (latest) occupancy.
    sort = Choice(
        "Sort",
        choices=[
            SelectChoice(f"{sign}{key}", f"{label}, {'descending' if sign else 'ascending'}")
            for key, label in (
                ("name", "Name"),
                ("code", "Code"),
                ("region", "Region"),
                ("occupancy", "Bed occupancy"),
            )
            for sign in ("", "-")
        ],
        default="name",
    )

    def __init__(self, *args, regions: list[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.regions = list(regions)

    def sort_key(self) -> tuple[str, bool]:
        """(column, descending)."""
        value = self.sort.data or "name"
        return value.lstrip("-"), value.startswith("-")
