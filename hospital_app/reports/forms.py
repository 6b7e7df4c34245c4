"""Forms of the reports area: the list's filters and the CSV import's upload. The report form
itself is report_entry.ReportForm: the new-hospital form uses it too."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

from flask import current_app, request
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, SelectChoice, StringField
from wtforms.validators import Length, Optional, ValidationError

from .. import rules
from ..report_entry import ReportDateField
from ..web import CheckedForm, Choice, PageArgs, RegionFilter


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


class ImportForm(CheckedForm):
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


class CheckedFileForm(CheckedForm):
    """The "Import these reports" button under a clean dry run: it sends the file that was
    checked back, so that the person need not choose it again.

    The file travels in the page (base64, so that no byte or line end changes on the way)
    with its name, the counts the check found, and a digest keyed with the app's secret: the
    import can then say it is the very file that was checked. Nothing else is trusted: the
    importer checks every row again, against the data as it is now.
    """

    content = HiddenField()
    filename = HiddenField()
    counts = HiddenField()  # "new,updated,unchanged" as the check found them
    digest = HiddenField()

    PROBLEM = (
        "The checked file did not come back intact, so nothing was imported. Choose the file "
        "again and press Import."
    )

    def __init__(self, *args, **kwargs):
        # A prefix of its own: the upload form (ImportForm) is on the same page.
        super().__init__(*args, prefix="checked", **kwargs)
        self.data_bytes = b""

    def sent(self) -> bool:
        """Was this the button that was pressed?"""
        return self.is_submitted() and self.digest.name in request.form

    @staticmethod
    def _sign(data: bytes, filename: str, counts: str) -> str:
        key = current_app.secret_key
        key = key.encode() if isinstance(key, str) else key
        message = b"\0".join([b"reports-import", filename.encode(), counts.encode(), data])
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def fill(self, data: bytes, filename: str, counts: tuple[int, int, int]) -> None:
        self.content.data = base64.b64encode(data).decode("ascii")
        self.filename.data = filename
        self.counts.data = ",".join(str(n) for n in counts)
        self.digest.data = self._sign(data, filename, self.counts.data)

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            self.form_errors.append(self.PROBLEM)
            return False
        try:
            self.data_bytes = base64.b64decode(self.content.data or "", validate=True)
        except (binascii.Error, ValueError):
            self.form_errors.append(self.PROBLEM)
            return False
        expected = self._sign(self.data_bytes, self.filename.data or "", self.counts.data or "")
        if not hmac.compare_digest(expected, self.digest.data or ""):
            self.form_errors.append(self.PROBLEM)
            return False
        return True

    def checked_counts(self) -> tuple[int, ...] | None:
        """(new, updated, unchanged) as the check found them (signed with the file)."""
        try:
            return tuple(int(n) for n in (self.counts.data or "").split(","))
        except ValueError:
            return None
