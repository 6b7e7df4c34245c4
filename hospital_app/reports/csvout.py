"""CSV downloads, streamed: the rows go out in batches as the database returns them, so an
export of 365,000 reports needs no more memory than one batch.

Choices, written once here for both exports:
- UTF-8 with a byte order mark. Excel reads a CSV without one in the machine's legacy code
  page (é becomes Ã©); with it, Excel, LibreOffice and our importer all read UTF-8.
- csv module defaults: comma, double quotes where needed, CRLF line ends (RFC 4180).
- Text cells go through csvcells.neutralise() (done by each export's row function), so a
  spreadsheet never runs a cell as a formula; numbers and ISO dates are written as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence

from flask import Response, stream_with_context
from sqlalchemy import Row, Select

from ..extensions import db

BOM = "\ufeff"
# Rows fetched per round trip (yield_per) and sent per chunk: big enough that the per-chunk
# cost is small, small enough that memory stays flat.
BATCH = 1000


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
