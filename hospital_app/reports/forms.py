"""Forms of the reports area: the list's filters and the CSV import's upload. The report form
itself is report_entry.ReportForm: the new-hospital form uses it too."""

from __future__ import annotations

from collections.abc import Sequence

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectChoice, StringField
from wtforms.validators import Length, Optional, ValidationError

from .. import rules
from ..report_entry import ReportDateField
from ..web import Choice, PageArgs, RegionFilter


class ReportFilters(PageArgs):
    """The list's query string (also the CSV export's).

    `hospitals` are (id, code, name) rows of every hospital, read once for the page's datalist:
    an unknown code gets a message and a known one filters on hospital_id, with no extra query.
    `regions` are the stored spellings, as for the hospital list.
    """

    hospital = StringField(
        "Hospital code",
        filters=[rules.normalise_code],
        validators=[Length(max=rules.CODE_MAX)],
        render_kw={"list": "hospital-codes", "autocomplete": "off", "spellcheck": "false"},
    )
    region = RegionFilter()
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
            raise ValidationError(rules.unknown_code_message(field.data))

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(
                f"The end date ({rules.day_text(field.data)}) is before the start date "
                f"({rules.day_text(self.date_from.data)})."
            )

    def hospital_id(self) -> int | None:
        return self._ids.get(self.hospital.data) if self.hospital.data else None

    def newest_first(self) -> bool:
        return self.sort.data != "date"


class ImportForm(FlaskForm):
    # Any file name is accepted: the importer checks what is inside, and says what is wrong.
    file = FileField(
        "CSV file",
        validators=[FileRequired("Choose the CSV file to import.")],
        description="UTF-8 text (“CSV UTF-8” in a spreadsheet program), the header on line 1.",
        render_kw={"accept": ".csv,text/csv"},
    )
    dry_run = BooleanField(
        "Check only (dry run)",
        description="Check every row and count what would change, without saving anything.",
    )

    def visible_fields(self) -> list:
        return [self.file, self.dry_run]

    def focus_field(self):
        return next((f for f in self.visible_fields() if f.errors), self.file)
