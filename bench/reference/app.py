"""The benchmark's reference: what bare Flask, the raw database driver and Jinja do for the
hospital list and a hospital's page, with the same markup as the app's pages and the same rows
per page, in one SQL query a page. No ORM, no sign-in, no forms: a floor to measure the app
against (`make bench`, README "Benchmark"), not a second app.

    DATABASE_URL=sqlite:////…/big.db gunicorn --pythonpath . --chdir bench/reference app:app

It draws the chart and the calendar with the app's own pure functions (hospital_app.charts,
timeliness.day_state), so both pages pay for the same pictures; the page around them, the
query and everything else is its own.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace

from flask import Flask, abort, render_template, request
from jinja2 import ChoiceLoader, FileSystemLoader

from hospital_app import rules
from hospital_app.charts import days_ending, occupancy_chart
from hospital_app.hospitals.queries import HOSPITAL_CHART_DAYS
from hospital_app.timeliness.queries import CALENDAR_WEEKS, STATES, day_state, start_day

URL = os.environ["DATABASE_URL"]
POSTGRES = URL.startswith("postgresql")
PER_PAGE = 25  # as the app's PER_PAGE
COUNTS = rules.COUNT_FIELDS
# The region names come back in one text cell: a separator no name holds.
SEP = "\x1f"

HERE = Path(__file__).resolve().parent
app = Flask(__name__)
# Its own pages first; the app's chart macro (dashboard/_charts.html) from the app's folder.
app.jinja_loader = ChoiceLoader(
    [FileSystemLoader(HERE / "templates"), FileSystemLoader(HERE.parent.parent / "templates")]
)
app.jinja_env.trim_blocks = True
app.jinja_env.lstrip_blocks = True
app.jinja_env.filters.update(
    number=lambda v: "—" if v is None else f"{v:,}",
    percent=lambda v: "—" if v is None else f"{v:.1f} %",
    day=lambda v: "—" if v is None else f"{v.day} {v:%b %Y}",
)
app.jinja_env.globals["today"] = date.today


_connection = None


def connection():
    """One connection per worker process, opened at its first request (after the fork)."""
    global _connection
    if _connection is None:
        if POSTGRES:
            import psycopg

            _connection = psycopg.connect(
                URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
            )
        else:
            path = URL.split("sqlite:///", 1)[1]
            _connection = sqlite3.connect(path, check_same_thread=False)
    return _connection


def query(sqlite_sql: str, postgres_sql: str, params: dict) -> list[tuple]:
    conn = connection()
    return conn.execute(postgres_sql if POSTGRES else sqlite_sql, params).fetchall()


def as_date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def as_moment(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def pct(part, whole):
    return 100 * part / whole if whole else None


class Page:
    """What the pagination macro reads: Flask-SQLAlchemy's Pagination, by hand."""

    def __init__(self, page: int, total: int, items: list):
        self.page, self.total, self.items = page, total, items
        self.pages = max(1, -(-total // PER_PAGE)) if total else 0
        self.first = (page - 1) * PER_PAGE + 1 if items else 0
        self.last = self.first + len(items) - 1 if items else 0
        self.has_prev, self.has_next = page > 1, page < self.pages
        self.prev_num, self.next_num = page - 1, page + 1

    def iter_pages(self, left_edge=1, left_current=2, right_current=3, right_edge=1):
        pages_end = self.pages + 1
        if pages_end == 1:
            return
        left_end = min(1 + left_edge, pages_end)
        yield from range(1, left_end)
        if left_end == pages_end:
            return
        mid_start = max(left_end, self.page - left_current)
        mid_end = min(self.page + right_current + 1, pages_end)
        if mid_start - left_end > 0:
            yield None
        yield from range(mid_start, mid_end)
        if mid_end == pages_end:
            return
        right_start = max(mid_end, pages_end - right_edge)
        if right_start - mid_end > 0:
            yield None
        yield from range(right_start, pages_end)


def page_number() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        abort(400)


# --- The hospital list: a page of active hospitals by name, each with its newest report, the
# total and the regions for the filter, in one statement. ---------------------------------

LIST_SQLITE = """
SELECT h.id, h.code, h.name, h.region, h.city, h.ownership, h.is_active,
       r.report_date, r.beds_occupied, r.beds_total, r.icu_beds_occupied, r.icu_beds_total,
       (SELECT count(*) FROM hospitals WHERE is_active) AS total,
       (SELECT group_concat(region, char(31)) FROM (SELECT DISTINCT region FROM hospitals))
FROM hospitals h
LEFT JOIN hospital_stats r ON r.hospital_id = h.id AND r.report_date =
    (SELECT max(report_date) FROM hospital_stats WHERE hospital_id = h.id)
WHERE h.is_active
ORDER BY h.name, h.id
LIMIT :limit OFFSET :offset
"""
LIST_POSTGRES = """
SELECT h.id, h.code, h.name, h.region, h.city, h.ownership, h.is_active,
       r.report_date, r.beds_occupied, r.beds_total, r.icu_beds_occupied, r.icu_beds_total,
       (SELECT count(*) FROM hospitals WHERE is_active) AS total,
       (SELECT string_agg(DISTINCT region, chr(31)) FROM hospitals)
FROM hospitals h
LEFT JOIN hospital_stats r ON r.hospital_id = h.id AND r.report_date =
    (SELECT max(report_date) FROM hospital_stats WHERE hospital_id = h.id)
WHERE h.is_active
ORDER BY h.name, h.id
LIMIT %(limit)s OFFSET %(offset)s
"""


@app.get("/hospitals")
def hospital_list():
    number = page_number()
    rows = query(LIST_SQLITE, LIST_POSTGRES, {"limit": PER_PAGE, "offset": (number - 1) * PER_PAGE})
    items, total, regions = [], 0, []
    for row in rows:
        (id_, code, name, region, city, ownership, active, day, occ, beds, icu_occ, icu) = row[:12]
        total, regions = row[12], sorted((row[13] or "").split(SEP))
        latest = None
        if day is not None:
            latest = SimpleNamespace(
                report_date=as_date(day),
                beds_occupied=occ,
                beds_total=beds,
                icu_beds_occupied=icu_occ,
                icu_beds_total=icu,
                occupancy=pct(occ, beds),
                icu_occupancy=pct(icu_occ, icu),
            )
        items.append(
            SimpleNamespace(
                id=id_,
                code=code,
                name=name,
                region=region,
                city=city,
                ownership_label=rules.OWNERSHIP.get(ownership, ownership),
                is_active=bool(active),
                latest_report=latest,
            )
        )
    return render_template(
        "list.html",
        hospitals_current=True,
        page=Page(number, total, items),
        regions=regions,
        ownerships=rules.OWNERSHIP,
    )


# --- A hospital's page: the hospital, its newest reports, the last 90 days for the chart and
# the calendar's weeks, its first report, counts and the deadline settings, in one statement.
# The counts are a derived table, computed once (as scalar subqueries in the select list
# SQLite ran them again for every report row: 10 ms instead of 1).

PAGE_SELECT = """
SELECT h.id, h.code, h.name, h.region, h.city, h.ownership, h.is_active, h.created_at,
       s.deadline_time, s.deadline_day_offset, c.n, c.signed, c.oldest,
       r.id, r.report_date, r.on_time, r.signed_off_at, r.outlier_confirmed, r.outlier_note,
       r.notes, {counts}
FROM hospitals h
CROSS JOIN (SELECT count(*) AS n, count(signed_off_at) AS signed, min(report_date) AS oldest
            FROM hospital_stats WHERE hospital_id = {id}) c
LEFT JOIN reporting_settings s ON 1 = 1
LEFT JOIN hospital_stats r ON r.id IN (
    SELECT id FROM hospital_stats WHERE hospital_id = {id} AND report_date >= {since}
    UNION SELECT id FROM (SELECT id FROM hospital_stats WHERE hospital_id = {id}
        ORDER BY report_date DESC LIMIT {limit} OFFSET {offset}) newest)
WHERE h.id = {id}
ORDER BY r.report_date DESC
""".replace("{counts}", ", ".join(f"r.{c}" for c in COUNTS))
PAGE_SQLITE = PAGE_SELECT.format(since=":since", limit=":limit", offset=":offset", id=":id")
PAGE_POSTGRES = PAGE_SELECT.format(
    since="%(since)s", limit="%(limit)s", offset="%(offset)s", id="%(id)s"
)


def as_time(value) -> time:
    if value is None:
        return rules.DEFAULT_DEADLINE_TIME
    return value if isinstance(value, time) else time.fromisoformat(str(value))


@app.get("/hospitals/<int:hospital_id>")
def hospital_page(hospital_id: int):
    number = page_number()
    today = date.today()
    chart_days = days_ending(today, HOSPITAL_CHART_DAYS)
    first_day = today - timedelta(days=today.weekday() + 7 * (CALENDAR_WEEKS - 1))
    since = min(chart_days[0], first_day)
    params = {
        "since": since,
        "limit": PER_PAGE,
        "offset": (number - 1) * PER_PAGE,
        "id": hospital_id,
    }
    rows = query(PAGE_SQLITE, PAGE_POSTGRES, params)
    if not rows:
        abort(404)
    head = rows[0]
    hospital = SimpleNamespace(
        id=head[0],
        code=head[1],
        name=head[2],
        region=head[3],
        city=head[4],
        ownership_label=rules.OWNERSHIP.get(head[5], head[5]),
        is_active=bool(head[6]),
        created_at=as_moment(head[7]),
    )
    settings = SimpleNamespace(
        deadline_time=as_time(head[8]),
        deadline_day_offset=rules.DEFAULT_DEADLINE_DAY_OFFSET if head[9] is None else head[9],
    )
    total, signed_off, oldest = head[10], head[11], as_date(head[12])
    reports = []
    for row in rows:
        if row[13] is None:
            continue
        figures = dict(zip(COUNTS, row[20:], strict=True))
        reports.append(
            SimpleNamespace(
                id=row[13],
                report_date=as_date(row[14]),
                on_time=None if row[15] is None else bool(row[15]),
                is_signed_off=row[16] is not None,
                outlier_confirmed=bool(row[17]),
                outlier_note=row[18],
                notes=row[19],
                occupancy=pct(figures["beds_occupied"], figures["beds_total"]),
                icu_occupancy=pct(figures["icu_beds_occupied"], figures["icu_beds_total"]),
                **figures,
            )
        )
    # The rows are newest first: the page's are those the statement's LIMIT picked.
    offset = (number - 1) * PER_PAGE
    on_page = reports[offset : offset + PER_PAGE] if number == 1 else []
    if number > 1:
        newest = sorted(reports, key=lambda r: r.report_date, reverse=True)
        on_page = newest[offset : offset + PER_PAGE]
    by_day = {
        r.report_date: (r.beds_occupied, r.beds_total, r.icu_beds_occupied, r.icu_beds_total)
        for r in reports
        if r.report_date >= chart_days[0]
    }
    chart = occupancy_chart(
        "chart-hospital",
        f"{hospital.name}: occupancy, last {HOSPITAL_CHART_DAYS} days to {today.day} {today:%b %Y}",
        "Occupied beds over beds, and occupied ICU beds over ICU beds, as reported each day. "
        "Days without a report are gaps.",
        chart_days,
        by_day,
    )
    found = {r.report_date: r.on_time for r in reports if r.report_date >= first_day}
    zone = datetime.now().astimezone().tzinfo
    start = start_day(oldest, hospital.created_at, zone)
    now = datetime.now(UTC).replace(tzinfo=None)
    days = [first_day + timedelta(days=n) for n in range(7 * CALENDAR_WEEKS)]
    cells = [day_state(d, found.get(d), start, hospital.is_active, settings, now) for d in days]
    return render_template(
        "page.html",
        hospitals_current=True,
        hospital=hospital,
        reports=Page(number, total, on_page),
        signed_off=signed_off,
        chart=chart,
        calendar=[cells[i : i + 7] for i in range(0, len(cells), 7)],
        states=STATES,
    )


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
