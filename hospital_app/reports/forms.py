"""The statistics list's query string (GET /stats and its CSV export)."""

from __future__ import annotations

from collections.abc import Sequence

from wtforms import SelectChoice, StringField
from wtforms.validators import Length, Optional, ValidationError

from .. import rules
from ..hospitals.forms import ListFilters
from ..stats.forms import ReportDateField
from ..web import Choice, PageArgs


class StatsFilters(PageArgs):
    """Plain Form: a GET changes nothing, so it needs no CSRF token.

    `hospitals` are (id, code, name) rows of every hospital, read once for the page's datalist:
    an unknown code gets a message and a known one filters on hospital_id, with no extra query.
    `regions` are the stored spellings, as for the hospital list (ListFilters).
    """

    hospital = StringField(
        "Hospital code",
        filters=[rules.normalise_code],
        validators=[Length(max=rules.CODE_MAX)],
        render_kw={"list": "hospital-codes", "autocomplete": "off", "spellcheck": "false"},
    )
    region = StringField(
        "Region", filters=[rules.normalise_space], validators=[Length(max=rules.REGION_MAX)]
    )
    date_from = ReportDateField("From", validators=[Optional()])
    date_to = ReportDateField("To", validators=[Optional()])
    sort = Choice(
        "Sort",
        choices=[
            SelectChoice("-date", "Newest first"),
            SelectChoice("date", "Oldest first"),
        ],
        default="-date",
    )

    def __init__(self, *args, hospitals: Sequence, regions: Sequence[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.hospitals = hospitals
        self.regions = list(regions)
        self._ids = {code: id_ for id_, code, _name in hospitals}

    def validate_hospital(self, field: StringField) -> None:
        if field.data and field.data not in self._ids:
            raise ValidationError(f"No hospital has the code “{field.data}”.")

    # One rule for both lists: a region typed in any case is its stored spelling.
    validate_region = ListFilters.validate_region

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(
                f"The end date ({field.data.isoformat()}) is before the start date "
                f"({self.date_from.data.isoformat()})."
            )

    def hospital_id(self) -> int | None:
        return self._ids.get(self.hospital.data) if self.hospital.data else None

    def newest_first(self) -> bool:
        return self.sort.data != "date"
