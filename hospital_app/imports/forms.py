"""The upload form of the CSV import."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField


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
