"""Timeliness (/timeliness, its CSV export, the calendar on a hospital's page, the dashboard's
on-time share): the figures equal sums the test computes itself, day by day, from the rows it
made; the page's queries do not grow with hospitals or days; bad filters get a 400."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from helpers import count_queries, make_hospital, page_text, shown, today
from sqlalchemy import select

from hospital_app import cycle
from hospital_app.extensions import db
from hospital_app.models import Report
from hospital_app.timeliness.queries import start_day

T = today()


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass
class Made:
    """A hospital as the test made it, to compute its figures independently."""

    code: str
    name: str
    region: str
    reports: set[date]
    on_time: set[date] = field(default_factory=set)
    active: bool = True
    registered: date = T  # make_hospital registers it now
    id: int = 0

    def expected(self, first: date, last: date) -> dict:
        start = min([self.registered, *self.reports])
        due = [
            d
            for d in days(first, last)
            if (self.active and d >= start) or (not self.active and d in self.reports)
        ]
        reported = [d for d in due if d in self.reports]
        on_time = [d for d in reported if d in self.on_time]
        return {
            "due": len(due),
            "reported": len(reported),
            "on_time": len(on_time),
            "late": len(reported) - len(on_time),
            "missing": len(due) - len(reported),
        }


def make(app, h: Made, **extra) -> Made:
    h.id = make_hospital(
        app,
        reports=tuple({"report_date": d} for d in sorted(h.reports)),
        code=h.code,
        name=h.name,
        region=h.region,
        is_active=h.active,
        **extra,
    )
    with app.app_context():
        # Made now, after their deadlines: the insert classed them late. The test says which
        # were on time.
        # Through the session, so the daily sums (summary.py) count them on time too.
        for report in db.session.scalars(
            select(Report).where(
                Report.hospital_id == h.id, Report.report_date.in_(sorted(h.on_time))
            )
        ):
            report.on_time = True
        db.session.commit()
    return h


# Every day of this range is due whatever the time of day (its deadlines are 12:00 the next day).
FIRST, LAST = T - timedelta(days=20), T - timedelta(days=3)


@pytest.fixture
def world(app) -> list[Made]:
    alder_days = set(days(T - timedelta(days=30), LAST)) - {T - timedelta(days=10), LAST}
    birch_days = set(days(T - timedelta(days=8), LAST)) - {T - timedelta(days=5)}
    registered = T - timedelta(days=6)
    made = [
        Made(
            "ALD-001",
            "Alder General",
            "North",
            alder_days,
            on_time={d for d in alder_days if (T - d).days % 3 == 0},
        ),
        # Started in the middle of the range: due from its first report on.
        Made("BIR-001", "Birch Clinic", "North", birch_days, on_time=birch_days),
        # Archived: its days without a report are not due; its reports count.
        Made(
            "CED-001",
            "Cedar Hospital",
            "South",
            {T - timedelta(days=15), T - timedelta(days=12)},
            on_time={T - timedelta(days=15)},
            active=False,
        ),
        # Reported once, long before the range: every day of it is missing.
        Made("DOG-001", "Dogwood Infirmary", "South", {T - timedelta(days=60)}),
        # Never reported; registered six days ago: due from then.
        Made("ELM-001", "Elm Cottage Hospital", "South", set(), registered=registered),
    ]
    for h in made[:-1]:
        make(app, h)
    make(app, made[-1], created_at=datetime.combine(registered, time(10, 0)))
    return made


def percent(part: int, whole: int) -> str:
    return "—" if not whole else f"{100 * part / whole:.1f} %"


def figures_text(e: dict) -> str:
    return (
        f"{e['due']} {e['reported']} {e['on_time']} {e['late']} {e['missing']} "
        f"{percent(e['on_time'], e['due'])} {percent(e['reported'], e['due'])}"
    )


def summed(expected: list[dict]) -> dict:
    return {k: sum(e[k] for e in expected) for k in expected[0]}


def query(first: date = FIRST, last: date = LAST, **extra) -> dict:
    return {"from": first.isoformat(), "to": last.isoformat(), **extra}


def test_figures_equal_sums_counted_day_by_day(client, world):
    response = client.get("/timeliness", query_string=query())
    assert response.status_code == 200
    text = page_text(response)
    assert f"Timeliness {shown(FIRST)} to {shown(LAST)}" in text
    for h in world:
        e = h.expected(FIRST, LAST)
        badge = "" if h.active else " Archived"
        started = f" from {shown(min(h.reports))}" if h.code == "BIR-001" else ""
        started = f" from {shown(h.registered)}" if h.code == "ELM-001" else started
        row = f"{h.name} {h.code}{badge}{started} {h.region} {figures_text(e)}"
        assert row in text, row
    by_region = {}
    for h in world:
        by_region.setdefault(h.region, []).append(h.expected(FIRST, LAST))
    for region, expected in by_region.items():
        assert f"{region} {figures_text(summed(expected))}" in text
    network = summed([e for group in by_region.values() for e in group])
    assert f"Network {figures_text(network)}" in text
    # The figures the test made are not all alike: each kind of day is there.
    assert network["on_time"] and network["late"] and network["missing"]


def test_an_archived_hospital_owes_nothing_but_its_reports_count(client, world):
    cedar = next(h for h in world if h.code == "CED-001")
    e = cedar.expected(FIRST, LAST)
    assert (e["due"], e["reported"], e["on_time"], e["missing"]) == (2, 2, 1, 0)
    text = page_text(client.get("/timeliness", query_string=query()))
    assert f"Cedar Hospital CED-001 Archived South {figures_text(e)}" in text


def test_reports_of_days_not_yet_due_are_not_counted(app, client, monkeypatch):
    # 11:00 UTC (the tests' time zone): yesterday's reports are due at 12:00 today.
    monkeypatch.setattr(cycle, "clock", lambda: datetime.combine(T, time(11, 0)))
    made = Made("ALD-001", "Alder General", "North", set(days(T - timedelta(days=3), T)))
    make(app, made)
    text = page_text(client.get("/timeliness", query_string=query(T - timedelta(days=3), T)))
    # Due: the days before yesterday; yesterday's and today's reports wait for their deadline.
    assert "Alder General ALD-001 North 2 2 0 2 0 0.0 % 100.0 %" in text
    assert f"here, up to {shown(T - timedelta(days=2))}" in text


def test_the_default_is_the_last_four_complete_weeks(app, client, monkeypatch):
    wednesday = date(2026, 11, 25)
    monkeypatch.setattr(cycle, "clock", lambda: datetime.combine(wednesday, time(9, 0)))
    make(app, Made("ALD-001", "Alder General", "North", {date(2026, 11, 1)}))
    response = client.get("/timeliness")
    assert response.status_code == 200
    text = page_text(response)
    # Monday 26 Oct to Sunday 22 Nov: the weeks before the current one, which is not over.
    assert "Timeliness 26 Oct 2026 to 22 Nov 2026" in text
    assert 'value="2026-10-26"' in response.text and 'value="2026-11-22"' in response.text
    # Due from its first report, 1 Nov, to 22 Nov: 22 days, one reported (late).
    assert "Alder General ALD-001 from 1 Nov 2026 North 22 1 0 1 21 0.0 % 4.5 %" in text


def rows_in_order(response, world) -> list[str]:
    html = response.get_data(as_text=True)
    body = html[html.index("By hospital") :]
    found = [(body.index(f">{h.name}<"), h.code) for h in world if f">{h.name}<" in body]
    return [code for _, code in sorted(found)]


@pytest.mark.parametrize("column", ["missing", "on_time_rate", "completeness", "due", "late"])
def test_sorting_by_a_column_both_ways_without_a_rate_last(client, world, column):
    expected = {h.code: h.expected(FIRST, LAST) for h in world}

    def value(code):
        e = expected[code]
        if column == "on_time_rate":
            return None if not e["due"] else e["on_time"] / e["due"]
        if column == "completeness":
            return None if not e["due"] else e["reported"] / e["due"]
        return e[column]

    for descending in (False, True):
        sort = f"-{column}" if descending else column
        codes = rows_in_order(client.get("/timeliness", query_string=query(sort=sort)), world)
        assert sorted(codes) == sorted(expected)
        known = [value(c) for c in codes if value(c) is not None]
        assert known == sorted(known, reverse=descending)
        # Rows without a value come after every row with one, in either direction.
        gaps = [value(c) is None for c in codes]
        assert gaps == sorted(gaps)


def test_the_csv_holds_the_page_s_figures_in_its_order(client, world):
    page = client.get("/timeliness", query_string=query(sort="-missing"))
    response = client.get("/timeliness/export.csv", query_string=query(sort="-missing"))
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    lines = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert [line["code"] for line in lines] == rows_in_order(page, world)
    by_code = {h.code: h for h in world}
    for line in lines:
        h = by_code[line["code"]]
        e = h.expected(FIRST, LAST)
        assert line["name"] == h.name and line["region"] == h.region
        assert line["status"] == ("active" if h.active else "archived")
        assert (line["from"], line["to"]) == (FIRST.isoformat(), LAST.isoformat())
        assert [int(line[k]) for k in ("days_due", "reported", "on_time", "late", "missing")] == [
            e["due"],
            e["reported"],
            e["on_time"],
            e["late"],
            e["missing"],
        ]
        rate = line["on_time_percent"]
        assert (f"{float(rate):.1f} %" if rate else "—") == percent(e["on_time"], e["due"])


def test_the_region_filter_keeps_to_its_hospitals(client, world):
    text = page_text(client.get("/timeliness", query_string=query(region="south")))
    assert "Dogwood Infirmary" in text and "Alder General" not in text
    response = client.get("/timeliness/export.csv", query_string=query(region="South"))
    assert "ALD-001" not in response.get_data(as_text=True)
    assert "DOG-001" in response.get_data(as_text=True)


def test_a_name_that_looks_like_a_formula_is_neutralised_in_the_csv(app, client):
    make(app, Made("EQ-001", "=HYPERLINK(1)", "North", {FIRST}))
    body = client.get("/timeliness/export.csv", query_string=query()).get_data(as_text=True)
    assert "'=HYPERLINK(1)" in body


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"from": "2026-02-30"}, "is not a date"),
        ({"to": "yesterday"}, "is not a date"),
        ({"from": (T + timedelta(days=1)).isoformat()}, "cannot be in the future"),
        ({"to": (T + timedelta(days=3)).isoformat()}, "cannot be in the future"),
        ({"from": "1999-12-31", "to": "2000-01-05"}, "cannot be before 1 Jan 2000"),
        ({"from": LAST.isoformat(), "to": FIRST.isoformat()}, "is before the start date"),
        (
            {"from": (T - timedelta(days=400)).isoformat(), "to": T.isoformat()},
            "Choose at most 366 days",
        ),
        ({"region": "Atlantis"}, "No hospital is in the region “Atlantis”"),
        ({"sort": "beds"}, "is not one of the choices"),
        ({"page": "0"}, "Page numbers start at 1"),
    ],
)
def test_bad_filters_get_a_message_and_a_400(client, world, args, message):
    for url in ("/timeliness", "/timeliness/export.csv"):
        response = client.get(url, query_string=args)
        assert response.status_code == 400, url
        assert message in page_text(response), url
        assert "These filters cannot be used" in page_text(response)


def test_no_hospital_yet(client):
    response = client.get("/timeliness")
    assert response.status_code == 200
    assert "No hospital yet, so nothing was due." in page_text(response)


def _statements(app, client, args) -> list[str]:
    with count_queries(app) as statements:
        assert client.get("/timeliness", query_string=args).status_code == 200
    return statements


def test_queries_do_not_grow_with_hospitals_or_days(app, client):
    one = make(app, Made("H-000", "Hospital 000", "North", {T - timedelta(days=2)}))
    week = query(T - timedelta(days=8), T - timedelta(days=2))
    year = query(T - timedelta(days=366), T - timedelta(days=2))
    few_week = _statements(app, client, week)
    few_year = _statements(app, client, year)
    for n in range(1, 100):
        make(
            app,
            Made(
                f"H-{n:03}",
                f"Hospital {n:03}",
                ("North", "South", "East")[n % 3],
                {T - timedelta(days=d) for d in range(2, 2 + n % 30, 3)},
            ),
        )
    many_week = _statements(app, client, week)
    many_year = _statements(app, client, year)
    assert one.id
    assert len(few_week) == len(few_year) == len(many_week) == len(many_year)
    # the signed-in account, the regions, the reporting settings, the hospitals' figures
    assert len(few_week) <= 4


# --- The calendar on a hospital's page -------------------------------------------------------


def test_the_calendar_tells_each_day_by_symbol_and_words(app, client, monkeypatch):
    monkeypatch.setattr(cycle, "clock", lambda: datetime.combine(T, time(13, 0)))
    on_time, late, missing = (T - timedelta(days=n) for n in (4, 3, 2))
    h = make(
        app,
        Made(
            "ALD-001",
            "Alder General",
            "North",
            {T - timedelta(days=5), on_time, late},
            on_time={on_time},
        ),
    )
    response = client.get(f"/hospitals/{h.id}")
    html = response.get_data(as_text=True)
    text = page_text(response)
    assert "Reporting calendar" in text
    assert f"{shown(on_time)}: on time" in text
    assert f"{shown(late)}: late" in text
    assert f"{shown(missing)}: missing" in text
    # 13:00 today: yesterday's deadline (12:00 today) has passed, today's has not.
    assert f"{shown(T - timedelta(days=1))}: missing" in text
    assert f"{shown(T)}: not due (deadline not passed yet)" in text
    assert f"{shown(T - timedelta(days=6))}: not due (before it started reporting)" in text
    # Colour and symbol, beside the words for screen readers.
    for day, state, symbol in (
        (on_time, "on-time", "✓"),
        (late, "late", "!"),
        (missing, "missing", "✗"),
    ):
        cell = (
            f'<td class="cal cal--{state}"><span aria-hidden="true"><span class="cal__date">'
            f'{day.day}</span> <span class="cal__mark">{symbol}</span></span>'
            f'<span class="visually-hidden">{shown(day)}: '
        )
        assert cell in html
    # Weekday column headers, so a screen reader reads each cell with its day of the week.
    assert '<th scope="col"><abbr title="Monday">Mon</abbr></th>' in html
    # 13 weeks, Monday to Sunday, the current week last.
    monday = T - timedelta(days=T.weekday() + 7 * 12)
    assert f"The last 13 weeks, {shown(monday)} to {shown(monday + timedelta(days=90))}" in text
    assert html.count('class="cal cal--') == 91


def test_an_archived_hospital_s_days_without_a_report_are_not_due(app, client):
    h = make(
        app,
        Made(
            "CED-001",
            "Cedar",
            "South",
            {T - timedelta(days=3)},
            on_time={T - timedelta(days=3)},
            active=False,
        ),
    )
    text = page_text(client.get(f"/hospitals/{h.id}"))
    assert f"{shown(T - timedelta(days=3))}: on time" in text
    assert f"{shown(T - timedelta(days=2))}: not due (archived)" in text
    assert ": missing" not in text


def test_an_old_first_report_sets_the_start_before_the_calendar(app, client):
    h = make(app, Made("DOG-001", "Dogwood", "South", {T - timedelta(days=200)}))
    text = page_text(client.get(f"/hospitals/{h.id}"))
    assert "before it started reporting" not in text
    assert f"{shown(T - timedelta(days=2))}: missing" in text


# --- The dashboard ---------------------------------------------------------------------------


def test_the_dashboard_shows_the_day_s_on_time_share(app, client):
    day = T - timedelta(days=2)
    make(app, Made("ALD-001", "Alder", "North", {day}, on_time={day}))
    make(app, Made("BIR-001", "Birch", "North", {day}))
    make(app, Made("CED-001", "Cedar", "South", set(), registered=T))
    text = page_text(client.get("/", query_string={"date": day.isoformat()}))
    assert "Reported on time 33.3 % 1 of 3 active hospitals, by the deadline" in text
    assert (
        f"On time: 1 of 3 active hospitals (33.3 %) reported for {shown(day)} by the deadline."
        in text
    )
    assert "North 2 of 2" in text


def test_before_the_deadline_the_dashboard_says_when_reports_are_due(app, client):
    make(app, Made("ALD-001", "Alder", "North", {T}))
    text = page_text(client.get("/"))
    due = f"12:00 on {shown(T + timedelta(days=1))}"
    assert f"Reported on time due by {due}" in text
    assert f"The reports of {shown(T)} are due by {due}" in text


def test_registration_day_is_read_in_the_hospitals_time_zone(app):
    # 23:30 UTC on 1 Nov is 2 Nov in Auckland.
    at = datetime(2026, 11, 1, 23, 30)
    assert start_day(None, at, ZoneInfo("Pacific/Auckland")) == date(2026, 11, 2)
    assert start_day(None, at, UTC) == date(2026, 11, 1)
    assert start_day(date(2026, 10, 1), at, UTC) == date(2026, 10, 1)
