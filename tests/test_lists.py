"""The lists' sorting, filters and pagination: /hospitals sorted by any column, /reports filtered
by hospital, region and dates; every link keeps the query string; a fixed number of queries."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers import (
    ADMIN_EMAIL,
    count_queries,
    fresh_app,
    make_hospital,
    make_user,
    page_text,
    shown,
    signed_in_client,
    today,
)

from hospital_app.extensions import db
from hospital_app.models import Hospital, Report

TODAY = today()
DAY = timedelta(days=1)


def hrefs(response, pattern: str = "") -> list[str]:
    """Every link of the page whose path starts with `pattern`, entities decoded."""
    found = re.findall(r'href="([^"]*)"', response.get_data(as_text=True))
    return [html.unescape(h) for h in found if urlsplit(html.unescape(h)).path.startswith(pattern)]


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def header_link(response, label: str) -> str:
    """The href of the sortable column heading `label`."""
    body = response.get_data(as_text=True)
    match = re.search(rf'<th [^>]*><a href="([^"]*)">{re.escape(label)}[<]', body)
    assert match, f"no sort link on the heading {label!r}"
    return html.unescape(match.group(1))


def sorted_heading(response) -> tuple[str, str] | None:
    """(heading text, aria-sort) of the column the page says it is sorted by."""
    body = response.get_data(as_text=True)
    found = re.findall(r'<th [^>]*aria-sort="(\w+)"[^>]*><a [^>]*>([^<]+)<', body)
    assert len(found) <= 1
    return (found[0][1], found[0][0]) if found else None


def codes(response) -> list[str]:
    """The hospital codes of the list's rows, in the order shown."""
    return re.findall(r'<td class="code">([^<]*)</td>', response.get_data(as_text=True))


# --- /hospitals sorting ----------------------------------------------------------------------


@pytest.fixture
def five(app):
    """Five hospitals whose order differs by every column; two have no occupancy."""
    make_hospital(app, code="C-3", name="Alpha", region="West")  # 150/200 = 75 %
    make_hospital(app, code="A-1", name="Bravo", region="East", reports=({"beds_occupied": 50},))
    make_hospital(app, code="B-2", name="Charlie", region="North", reports=())  # no report
    make_hospital(
        app,
        code="E-5",
        name="Delta",
        region="East",
        # No beds: no occupancy, whatever the counts.
        reports=(
            {
                "beds_total": 0,
                "beds_occupied": 0,
                "icu_beds_total": 0,
                "icu_beds_occupied": 0,
            },
        ),
    )
    make_hospital(
        app,
        code="D-4",
        name="Echo",
        region="South",
        # The latest report counts (300/400 = 75 %, a tie with Alpha), not the fuller older one.
        reports=(
            {"report_date": TODAY - 3 * DAY, "beds_occupied": 200},
            {"report_date": TODAY, "beds_total": 400, "beds_occupied": 300},
        ),
    )


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("", ["C-3", "A-1", "B-2", "E-5", "D-4"]),  # by name, the default
        ("name", ["C-3", "A-1", "B-2", "E-5", "D-4"]),
        ("-name", ["D-4", "E-5", "B-2", "A-1", "C-3"]),
        ("code", ["A-1", "B-2", "C-3", "D-4", "E-5"]),
        ("-code", ["E-5", "D-4", "C-3", "B-2", "A-1"]),
        # Ties within a region by name.
        ("region", ["A-1", "E-5", "B-2", "D-4", "C-3"]),
        ("-region", ["C-3", "D-4", "B-2", "A-1", "E-5"]),
        # 25 %, then the 75 % tie by name (Alpha, Echo), then no occupancy by name.
        ("occupancy", ["A-1", "C-3", "D-4", "B-2", "E-5"]),
        ("-occupancy", ["C-3", "D-4", "A-1", "B-2", "E-5"]),
    ],
)
def test_hospitals_sort_by_each_column_both_ways_with_no_occupancy_last(
    client, five, sort, expected
):
    response = client.get(f"/hospitals?sort={sort}" if sort else "/hospitals")
    assert response.status_code == 200
    assert codes(response) == expected


@pytest.mark.parametrize(
    ("sort", "heading", "aria", "next_sort"),
    [
        ("", "Name", "ascending", "-name"),
        ("code", "Code", "ascending", "-code"),
        ("-code", "Code", "descending", "code"),
        ("-occupancy", "Bed occupancy", "descending", "occupancy"),
    ],
)
def test_sorted_heading_says_so_and_its_link_turns_the_order_round(
    client, five, sort, heading, aria, next_sort
):
    response = client.get(f"/hospitals?sort={sort}" if sort else "/hospitals")
    assert sorted_heading(response) == (heading, aria)
    assert query(header_link(response, heading))["sort"] == next_sort


def test_heading_links_keep_the_filters_and_go_back_to_page_one(app, client):
    for n in range(7):
        make_hospital(app, code=f"E-{n}", name=f"East {n}", region="East", ownership="private")
    response = client.get("/hospitals?region=East&ownership=private&status=all&sort=-code&page=2")
    assert response.status_code == 200
    kept = {"region": "East", "ownership": "private", "status": "all"}
    for heading, sort in [
        ("Code", "code"),
        ("Name", "name"),
        ("Region", "region"),
        ("Bed occupancy", "-occupancy"),  # largest first on the first click
    ]:
        assert query(header_link(response, heading)) == {**kept, "sort": sort}


def test_pages_keep_the_filters_and_the_sort(app, client):
    for n in range(12):
        make_hospital(app, code=f"H-{n:02d}", name=f"Hospital {n:02d}", region="East")
    make_hospital(app, code="W-1", name="Westside", region="West")
    first = client.get("/hospitals?region=east&sort=-code")  # any case finds the region
    assert codes(first) == ["H-11", "H-10", "H-09", "H-08", "H-07"]
    pages = [h for h in hrefs(first, "/hospitals") if "page" in query(h)]
    assert pages and all(
        query(h) == {"region": "east", "sort": "-code", "page": query(h)["page"]} for h in pages
    )
    following = next(h for h in pages if query(h)["page"] == "3")
    assert codes(client.get(following)) == ["H-01", "H-00"]


def test_filter_form_and_export_link_keep_the_sort(app, client, five):
    response = client.get("/hospitals?sort=-occupancy&region=East&page=1")
    body = response.get_data(as_text=True)
    assert '<input type="hidden" name="sort" value="-occupancy">' in body
    (export,) = hrefs(response, "/hospitals/export.csv")
    assert query(export) == {"sort": "-occupancy", "region": "East"}  # every page, not page 1


@pytest.mark.parametrize(
    ("query_string", "message"),
    [
        ("?sort=beds", "Sort: “beds” is not one of the choices."),
        ("?sort=", "Sort: “” is not one of the choices."),
        ("?sort=--name", "Sort: “--name” is not one of the choices."),
        ("?region=Atlantis", "Region: No hospital is in the region “Atlantis”."),
        ("?page=x&sort=code", "“x” is not a page number"),
    ],
)
def test_bad_sort_or_region_is_a_400_with_a_message(client, five, query_string, message):
    response = client.get("/hospitals" + query_string)
    assert response.status_code == 400
    text = page_text(response)
    assert "These filters cannot be used" in text and message in text
    assert codes(response) == []


def test_region_filter_compares_the_stored_spelling_exactly(app, client, five):
    """lower(region) = … cannot use the region index; the list compares the stored spelling."""
    with count_queries(app) as statements:
        assert codes(client.get("/hospitals?region=EAST")) == ["A-1", "E-5"]
    page = [s for s in statements if "LIMIT" in s.upper() and "hospitals.region =" in s]
    assert page, statements
    assert not any("lower(hospitals.region)" in s.lower() for s in statements)


# --- /reports ----------------------------------------------------------------------------------


@pytest.fixture
def network(app) -> dict[str, int]:
    """Three hospitals in two regions, with reports on three days; an archived one too."""
    ids = {
        "N-1": make_hospital(
            app,
            code="N-1",
            name="North One",
            region="North",
            reports=tuple({"report_date": TODAY - d * DAY} for d in (1, 2, 3)),
        ),
        "N-2": make_hospital(
            app,
            code="N-2",
            name="Another North",
            region="North",
            reports=tuple({"report_date": TODAY - d * DAY, "admissions": 7} for d in (1, 3)),
        ),
        "S-1": make_hospital(
            app,
            code="S-1",
            name="South One",
            region="South",
            reports=({"report_date": TODAY - 2 * DAY, "beds_occupied": 100},),
        ),
    }
    return ids


def report_rows(response) -> list[tuple[str, str]]:
    """(date, hospital code) of each row of the reports list, in order; the date as d()
    writes it (the list shows it as people read it: 28 Nov 2026)."""
    body = response.get_data(as_text=True)
    rows = re.findall(
        r'<td class="nowrap">(\d+ \w+ \d{4})</td>\s*<td><a [^>]*>[^<]*</a> '
        r'<span class="code muted">([^<]*)</span>',
        body,
    )
    return [(datetime.strptime(day, "%d %b %Y").date().isoformat(), code) for day, code in rows]


def d(days_ago: int) -> str:
    return (TODAY - days_ago * DAY).isoformat()


def test_reports_list_is_newest_first_then_by_hospital_name(client, network):
    response = client.get("/reports")
    assert response.status_code == 200
    assert report_rows(response) == [
        (d(1), "N-2"),  # Another North before North One
        (d(1), "N-1"),
        (d(2), "N-1"),
        (d(2), "S-1"),
        (d(3), "N-2"),
    ]
    assert "Showing 1–5 of 6 reports" in page_text(response)
    assert report_rows(client.get("/reports?page=2")) == [(d(3), "N-1")]


def test_reports_list_oldest_first(client, network):
    rows = report_rows(client.get("/reports?sort=date"))
    assert rows == [(d(3), "N-2"), (d(3), "N-1"), (d(2), "N-1"), (d(2), "S-1"), (d(1), "N-2")]


@pytest.mark.parametrize(
    ("query_string", "expected"),
    [
        ("?hospital=n-1", [(d(1), "N-1"), (d(2), "N-1"), (d(3), "N-1")]),  # code in any case
        ("?region=south", [(d(2), "S-1")]),
        ("?region=North&date_from=" + d(2), [(d(1), "N-2"), (d(1), "N-1"), (d(2), "N-1")]),
        ("?date_from={0}&date_to={0}".format(d(2)), [(d(2), "N-1"), (d(2), "S-1")]),
        ("?date_to=" + d(3), [(d(3), "N-2"), (d(3), "N-1")]),
        (f"?hospital=N-2&region=North&date_from={d(3)}&date_to={d(1)}", None),
    ],
)
def test_reports_filters(client, network, query_string, expected):
    response = client.get("/reports" + query_string)
    assert response.status_code == 200
    if expected is None:
        expected = [(d(1), "N-2"), (d(3), "N-2")]
    assert report_rows(response) == expected


def test_reports_columns_and_links(app, client, network):
    text = page_text(client.get("/reports?hospital=S-1"))
    # date, hospital, region, beds occupied/total and %, ICU, ventilators, admissions…
    assert (
        f"{shown(TODAY - 2 * DAY)} South One S-1 South 100/200 (50.0 %) 12/20 6/15 30 25 1 Edit"
        in text
    )
    response = client.get("/reports?hospital=S-1")
    assert f"/hospitals/{network['S-1']}" in hrefs(response, "/hospitals/")
    with app.app_context():
        report_id = db.session.scalar(
            db.select(Report.id).where(Report.hospital_id == network["S-1"])
        )
    assert f"/reports/{report_id}/edit" in hrefs(response, "/reports/")


def test_edit_links_only_where_the_person_may_edit(app, login_as, network):
    viewer = login_as("viewer")
    assert not [h for h in hrefs(viewer.get("/reports")) if h.endswith("/edit")]
    editor = login_as("editor", hospitals=(network["S-1"],))
    edits = [h for h in hrefs(editor.get("/reports?date_from=" + d(2))) if h.endswith("/edit")]
    with app.app_context():
        mine = db.session.scalars(
            db.select(Report.id).where(Report.hospital_id == network["S-1"])
        ).all()
    assert edits == [f"/reports/{i}/edit" for i in mine]


def test_reports_pages_sort_and_export_links_keep_the_filters(client, network):
    response = client.get(f"/reports?date_from={d(3)}&date_to={d(1)}&page=1")
    kept = {"date_from": d(3), "date_to": d(1)}  # six reports: two pages
    assert query(header_link(response, "Date")) == {**kept, "sort": "date"}
    (export,) = hrefs(response, "/reports/export.csv")
    assert query(export) == kept
    pages = [h for h in hrefs(response, "/reports") if "page" in query(h)]
    assert pages and all(query(h) == {**kept, "page": query(h)["page"]} for h in pages)
    sorted_old = client.get("/reports?region=North&sort=date")
    assert '<input type="hidden" name="sort" value="date">' in sorted_old.get_data(as_text=True)
    assert sorted_heading(sorted_old) == ("Date", "ascending")


def test_reports_empty_states_say_what_to_do(app, client):
    text = page_text(client.get("/reports"))
    assert "No reports yet. Open a hospital from the hospital list" in text
    make_hospital(app, region="North")
    text = page_text(client.get("/reports?date_from=2001-01-01&date_to=2001-01-31"))
    assert "No report matches these filters." in text and "clear the filters" in text


@pytest.mark.parametrize(
    ("query_string", "message"),
    [
        ("?date_from=2026-02-30", "From: “2026-02-30” is not a date"),
        ("?date_to=yesterday", "To: “yesterday” is not a date"),
        (
            "?date_from=2025-03-02&date_to=2025-03-01",
            "To: The end date (1 Mar 2025) is before the start date (2 Mar 2025).",
        ),
        ("?hospital=ZZZ-9", "Hospital code: No hospital has the code “ZZZ-9”."),
        ("?hospital=" + "X" * 30, "Hospital code: Field cannot be longer than 20 characters."),
        ("?region=Nowhere", "Region: No hospital is in the region “Nowhere”."),
        ("?sort=hospital", "Sort: “hospital” is not one of the choices."),
        ("?page=0", "Page numbers start at 1."),
        ("?page=abc", "“abc” is not a page number"),
    ],
)
def test_bad_stats_query_strings_get_a_400_with_a_message(client, network, query_string, message):
    response = client.get("/reports" + query_string)
    assert response.status_code == 400
    text = page_text(response)
    assert "These filters cannot be used" in text and message in text
    assert report_rows(response) == []


def test_reports_are_in_the_navigation(client):
    response = client.get("/reports")
    assert '<a href="/reports" aria-current="page">Reports</a>' in response.get_data(as_text=True)
    assert "/reports" in hrefs(client.get("/hospitals"), "/reports")


def test_reports_list_needs_sign_in(anon):
    response = anon.get("/reports?region=North")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login?next=")


# --- A fixed number of queries ---------------------------------------------------------------


def _statements(url: str, path: str, per_page: int, hospitals: int, role: str) -> int:
    """Statements sent for `path` on a database of `hospitals` hospitals with two reports
    each, with PER_PAGE `per_page`, seen by an account of `role`."""
    with fresh_app(url, PER_PAGE=per_page) as app:
        ids = [
            make_hospital(
                app,
                code=f"H-{n:02d}",
                name=f"Hospital {n:02d}",
                region="North" if n % 2 else "South",
                reports=({}, {"report_date": TODAY - 2 * DAY}),
            )
            for n in range(hospitals)
        ]
        make_user(app, role, email=ADMIN_EMAIL, hospitals=tuple(ids))
        client = signed_in_client(app, ADMIN_EMAIL)
        with count_queries(app) as statements:
            response = client.get(path)
        assert response.status_code == 200, path
        with app.app_context():
            assert db.session.scalar(db.select(db.func.count()).select_from(Hospital)) == hospitals
        return len(statements)


@pytest.mark.parametrize(
    "path",
    [
        "/hospitals",
        "/hospitals?sort=-occupancy&status=all",
        "/hospitals?sort=region&region=south",
        "/reports",
        "/reports?hospital=H-00",
        "/reports?region=south&date_from=2000-01-01&date_to=" + TODAY.isoformat(),
    ],
)
@pytest.mark.parametrize("role", ["admin", "editor"])
def test_list_pages_send_as_many_queries_whatever_the_page_size_or_the_data(
    migrated_url, path, role
):
    counts = {
        (per_page, hospitals): _statements(migrated_url, path, per_page, hospitals, role)
        for per_page in (5, 50)
        for hospitals in (1, 12)
    }
    assert len(set(counts.values())) == 1, counts
    # The account (and, for an editor, their hospitals), regions (and for /reports the codes
    # for the datalist), the count and the page with whatever it joins; for an editor's
    # /reports, the reporting settings too (is each row's day closed?), read once.
    closing = 1 if role == "editor" and path.startswith("/reports") else 0
    assert next(iter(counts.values())) <= 6 + closing, counts
