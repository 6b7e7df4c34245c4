"""/timeliness: for everyone signed in, per region and per hospital, the days due, reported,
on time, late and missing over a range (the last 4 complete weeks unless ?from=&to= say),
sortable, and its CSV export with the same filters. The definitions are in queries.py."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, current_app, render_template, request
from flask_sqlalchemy.pagination import Pagination

from .. import cycle
from ..csvfiles import BOM, neutralise
from ..hospitals.queries import regions_in_use
from ..web import export_args
from . import queries
from .forms import LARGEST_FIRST, TimelinessFilters

bp = Blueprint("timeliness", __name__, url_prefix="/timeliness")


class ListPage(Pagination):
    """A page of rows already in memory (sorted in Python, since the days due are counted
    there), drawn by the same pagination macro as the database's pages."""

    def _query_items(self) -> list:
        rows = self._query_args["rows"]
        return rows[self._query_offset : self._query_offset + self.per_page]

    def _query_count(self) -> int:
        return len(self._query_args["rows"])


def _filters() -> TimelinessFilters:
    return TimelinessFilters(request.args, regions=regions_in_use())


def _rows(filters: TimelinessFilters) -> list[queries.Row]:
    rows = queries.hospital_rows(filters.first, filters.last, filters.region.data or None)
    return queries.sorted_rows(rows, *filters.sort_key())


@bp.get("")
def index():
    filters = _filters()
    if not filters.validate():
        return render_template("timeliness/index.html", filters=filters, data=None), 400
    rows = _rows(filters)
    page = ListPage(
        page=filters.page_number(),
        per_page=current_app.config["PER_PAGE"],
        error_out=False,
        rows=rows,
    )
    data = {
        "page": page,
        "regions": queries.by_region(rows),
        "total": queries.total(rows),
        "settings": cycle.settings(),
        "last_due": queries.last_due_day(filters.last, cycle.settings()),
    }
    return render_template(
        "timeliness/index.html",
        filters=filters,
        data=data,
        export_args=export_args(),
        largest_first=LARGEST_FIRST,
        columns=queries.SORT_KEYS,
    )


EXPORT_COLUMNS = [
    "code",
    "name",
    "region",
    "status",
    "from",
    "to",
    "days_due",
    "reported",
    "on_time",
    "late",
    "missing",
    "on_time_percent",
    "completeness_percent",
]


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@bp.get("/export.csv")
def export():
    """Every hospital of the page with the same query string, every page of it, in its order."""
    filters = _filters()
    if not filters.validate():
        return render_template("timeliness/index.html", filters=filters, data=None), 400
    rows = _rows(filters)
    span = (filters.first.isoformat(), filters.last.isoformat())
    lines = [
        [
            *map(neutralise, (r.code, r.name, r.region)),
            "active" if r.is_active else "archived",
            *span,
            r.figures.due,
            r.figures.reported,
            r.figures.on_time,
            r.figures.late,
            r.figures.missing,
            _percent(r.figures.on_time_rate),
            _percent(r.figures.completeness),
        ]
        for r in rows
    ]
    filename = f"timeliness-{span[0]}-to-{span[1]}.csv"
    return list_csv(filename, EXPORT_COLUMNS, lines)


def list_csv(filename: str, header: list[str], lines: list[list]) -> Response:
    """A CSV attachment of rows already in memory (a hospital per line: small), written as
    csvfiles writes the streamed exports: UTF-8 with a byte order mark, csv defaults."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(lines)
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    return response
