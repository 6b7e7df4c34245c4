"""CSV files out and in: the streamed downloads of the lists, and the cells a spreadsheet would
run as a formula, made safe on export and restored on import, so that export → import gives
back exactly the values that went out.

Choices, written once here for every export:
- UTF-8 with a byte order mark. Excel reads a CSV without one in the machine's legacy code
  page (é becomes Ã©); with it, Excel, LibreOffice and our importer all read UTF-8.
- csv module defaults: comma, double quotes where needed, CRLF line ends (RFC 4180).
- Text cells go through neutralise() (done by each export's row function): a spreadsheet
  treats a cell that starts with = + - @ (or a tab or carriage return before one) as a
  formula. Export puts an apostrophe in front of such text, the usual way to say "this is
  text"; text that already starts with an apostrophe gets one more, so import can always undo
  exactly one. Numbers and ISO dates are written as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence

from flask import Response, stream_with_context
from sqlalchemy import Row, Select

from .extensions import db

BOM = "\ufeff"
# Rows fetched per round trip (yield_per) and sent per chunk: big enough that the per-chunk
# cost is small, small enough that memory stays flat.
BATCH = 1000

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


def _lines(header: Sequence[str], stmt: Select, cells: Callable[[Row], Sequence]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    buffer.write(BOM)
    writer.writerow(header)
    yield flush()
    # yield_per fetches in batches: a server-side cursor on PostgreSQL (psycopg) and an
    # unbuffered one on MariaDB (PyMySQL); SQLite's cursor reads lazily anyway.
    result = db.session.execute(stmt.execution_options(yield_per=BATCH))
    try:
        for rows in result.partitions():
            writer.writerows(cells(row) for row in rows)
            yield flush()
    finally:
        # Also when the client goes away mid-download: free the cursor before the session
        # is removed at the end of the (streamed) request.
        result.close()


def csv_response(
    filename: str, header: Sequence[str], stmt: Select, cells: Callable[[Row], Sequence]
) -> Response:
    """A streamed text/csv attachment named `filename`: the header row, then one line per row
    of `stmt`, turned into cells by `cells`.

    stream_with_context keeps the request (and its app context, hence db.session and its
    transaction) alive until the last row is sent; the session is removed after that.
    """
    response = Response(stream_with_context(_lines(header, stmt, cells)), mimetype="text/csv")
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    return response
