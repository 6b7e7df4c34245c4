"""CSV cells that a spreadsheet would run as a formula, made safe on export and restored on
import, so that export → import gives back exactly the values that went out.

A spreadsheet treats a cell that starts with = + - @ (or a tab or carriage return before one)
as a formula. Export puts an apostrophe in front of such text, the usual way to say "this is
text"; text that already starts with an apostrophe gets one more, so import can always undo
exactly one.
"""

from __future__ import annotations

from . import rules

# The statistics CSV format: what the reports export writes and the import reads, so that an
# export imports back unchanged.
REPORT_COLUMNS = ["hospital_code", "report_date", *rules.COUNT_FIELDS, "notes"]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str | None) -> str:
    """The cell to write for `text` (None is an empty cell)."""
    if not text:
        return ""
    if text.startswith(FORMULA_START) or text.startswith("'"):
        return "'" + text
    return text


def restore(cell: str) -> str:
    """The text that neutralise() turned into `cell`. An apostrophe typed by hand in front of
    anything else is kept: it was not ours."""
    if cell.startswith("'") and cell[1:].startswith((*FORMULA_START, "'")):
        return cell[1:]
    return cell
