"""Forms of the hospitals area: the hospital form, the create form (hospital and its first
report together) and the list's filters."""

from __future__ import annotations

from sqlalchemy import func, select
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from .. import rules
from ..extensions import db
from ..models import Hospital
from ..stats.forms import StatsForm, strip_or_none
from ..web import Choice, OrderedForm, PageArgs


def regions_in_use() -> list[str]:
    return list(db.session.scalars(select(Hospital.region).distinct().order_by(Hospital.region)))


def ownership_choices() -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in rules.OWNERSHIP.items()]


class HospitalForm(OrderedForm):
    code = StringField(
        "Facility code",
        filters=[rules.normalise_code],
        validators=[DataRequired("Enter the hospital's facility code.")],
        description=f"{rules.CODE_MIN}–{rules.CODE_MAX} letters, digits or hyphens, e.g. NRH-001. "
        "Stored in capitals.",
        render_kw={"autocapitalize": "characters", "spellcheck": "false", "autocomplete": "off"},
    )
    name = StringField(
        "Name",
        filters=[rules.normalise_space],
        validators=[
            DataRequired("Enter the hospital's name."),
            Length(max=rules.NAME_MAX, message=f"Keep the name to {rules.NAME_MAX} characters."),
        ],
    )
    region = StringField(
        "Region",
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
        "City",
        filters=[rules.normalise_space, strip_or_none],
        validators=[
            Optional(),
            Length(max=rules.CITY_MAX, message=f"Keep the city to {rules.CITY_MAX} characters."),
        ],
    )
    ownership = SelectField(
        "Ownership",
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

    def hospital_fields(self):
        return [self.code, self.name, self.region, self.city, self.ownership]

    def visible_fields(self):
        return self.hospital_fields()

    def apply_hospital(self, hospital: Hospital) -> None:
        for field in self.hospital_fields():
            setattr(hospital, field.name, field.data)


class NewHospitalForm(HospitalForm, StatsForm):
    """One form, two rows: the hospital and its first statistics report."""

    def visible_fields(self):
        return self.hospital_fields() + self.report_fields()


class ListFilters(PageArgs):
    """The list's query string (also the CSV export's). Plain Form: a GET changes nothing, so
    it needs no CSRF token.

    `regions` are the stored spellings (regions_in_use()): a region typed in another case is
    matched to its stored spelling here, so the query compares it exactly and can use the
    region index instead of lower(region) over every row.
    """

    q = StringField("Name or code", filters=[rules.normalise_space], validators=[Length(max=200)])
    region = StringField(
        "Region", filters=[rules.normalise_space], validators=[Length(max=rules.REGION_MAX)]
    )
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

    def validate_region(self, field: StringField) -> None:
        if not field.data:
            return
        stored = next((r for r in self.regions if r.lower() == field.data.lower()), None)
        if stored is None:
            raise ValidationError(f"No hospital is in the region “{field.data}”.")
        field.data = stored

    def sort_key(self) -> tuple[str, bool]:
        """(column, descending)."""
        value = self.sort.data or "name"
        return value.lstrip("-"), value.startswith("-")
