"""CSV exports of both lists: exactly the rows the list's filters select (every page), in its
order, streamed, with a header row, ISO dates, a file name that says what and when, and text
cells a spreadsheet would run as a formula neutralised."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta

import pytest
from helpers import make_hospital, page_text
from helpers import today as app_today

from hospital_app import rules
from hospital_app.csvfiles import restore
from hospital_app.extensions import db
from hospital_app.models import Hospital

TODAY = app_today()
DAY = timedelta(days=1)
REPORT_HEADER = ["hospital_code", "report_date", *rules.COUNT_FIELDS, "notes"]


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff"), "no byte order mark: Excel would misread UTF-8"
    return list(csv.reader(io.StringIO(body[1:], newline="")))


def filename(app, response) -> str:
    disposition = response.headers["Content-Disposition"]
    match = re.fullmatch(r'attachment; filename="?([^"]+)"?', disposition)
    assert match, disposition
    return match.group(1)


def today(app) -> str:
    with app.app_context():
        return rules.today().isoformat()


def list_codes(client, path: str) -> list[str]:
    """The codes of every page of a hospital list, read as a person pages through it."""
    found, page = [], 1
    while True:
        body = client.get(f"{path}&page={page}").get_data(as_text=True)
        codes = re.findall(r'<td class="code">([^<]*)</td>', body)
        if not codes:
            return found
        found += codes
        page += 1


# --- /hospitals/export.csv -------------------------------------------------------------------


def test_hospitals_export_is_every_page_of_the_filtered_sorted_list(app, client):
    for n in range(12):
        make_hospital(
            app,
            code=f"E-{n:02d}",
            name=f"East {n:02d}",
            region="East",
            reports=({"beds_occupied": 20 + 10 * n},) if n % 3 else (),
        )
    make_hospital(app, code="W-1", name="Westside", region="West")
    query = "?region=east&sort=-occupancy"
    response = client.get("/hospitals/export.csv" + query)
    assert response.is_streamed
    rows = read_csv(response)
    assert rows[0] == [
        "code",
        "name",
        "region",
        "city",
        "ownership",
        "status",
        "latest_report_date",
        "beds_total",
        "beds_occupied",
        "bed_occupancy_percent",
        "icu_beds_total",
        "icu_beds_occupied",
        "ventilators_total",
        "ventilators_in_use",
    ]
    exported = [row[0] for row in rows[1:]]
    assert len(exported) == 12 and "W-1" not in exported
    assert exported == list_codes(client, "/hospitals" + query)  # three pages of the list
    assert filename(app, response) == f"hospitals-{today(app)}.csv"


def test_hospitals_export_cells(app, client):
    make_hospital(
        app,
        code="A-1",
        name="Alpha Général",
        city=None,
        ownership="non-profit",
        reports=(
            {"report_date": TODAY - 2 * DAY, "beds_occupied": 20},
            {"report_date": TODAY - DAY, "beds_total": 300, "beds_occupied": 200},
        ),
    )
    make_hospital(app, code="B-2", name="Bravo", reports=())
    archived = make_hospital(app, code="C-3", name="Charlie")
    with app.app_context():
        db.session.get(Hospital, archived).is_active = False
        db.session.commit()
    rows = read_csv(client.get("/hospitals/export.csv?status=all"))
    assert rows[1:] == [
        [
            "A-1",
            "Alpha Général",
            "North",
            "",
            "non-profit",
            "active",
            (TODAY - DAY).isoformat(),
            "300",
            "200",
            "66.7",
            "20",
            "12",
            "15",
            "6",
        ],
        ["B-2", "Bravo", "North", "Ashford", "public", "active", *[""] * 8],
        [
            "C-3",
            "Charlie",
            "North",
            "Ashford",
            "public",
            "archived",
            (TODAY - DAY).isoformat(),
            "200",
            "150",
            "75.0",
            "20",
            "12",
            "15",
            "6",
        ],
    ]


# --- /reports/export.csv -----------------------------------------------------------------------


@pytest.fixture
def network(app) -> None:
    make_hospital(
        app,
        code="N-1",
        name="North One",
        region="North",
        reports=tuple({"report_date": TODAY - d * DAY, "admissions": d} for d in range(1, 9)),
    )
    make_hospital(
        app,
        code="S-1",
        name="South One",
        region="South",
        reports=tuple({"report_date": TODAY - d * DAY} for d in range(1, 4)),
    )


def list_reports(client, path: str) -> list[tuple[str, str]]:
    """(date, code) of every page of the reports list, the date as the CSV writes it (the
    list shows it as people read it: 28 Nov 2026)."""
    found, page = [], 1
    while True:
        body = client.get(f"{path}&page={page}").get_data(as_text=True)
        rows = re.findall(
            r'<td class="nowrap">(\d+ \w+ \d{4})</td>\s*<td><a [^>]*>[^<]*</a> '
            r'<span class="code muted">([^<]*)</span>',
            body,
        )
        if not rows:
            return found
        found += [(datetime.strptime(d, "%d %b %Y").date().isoformat(), c) for d, c in rows]
        page += 1


@pytest.mark.parametrize(
    "query",
    [
        "?sort=-date",
        "?sort=date",
        f"?region=north&date_from={(TODAY - 6 * DAY).isoformat()}",
        "?hospital=s-1",
        f"?date_from={(TODAY - 3 * DAY).isoformat()}&date_to={TODAY.isoformat()}",
    ],
)
def test_reports_export_is_every_page_of_the_filtered_list(client, network, query):
    response = client.get("/reports/export.csv" + query)
    assert response.is_streamed
    rows = read_csv(response)
    assert rows[0] == REPORT_HEADER
    listed = list_reports(client, "/reports" + query)
    assert len(listed) > 0
    assert [(row[1], row[0]) for row in rows[1:]] == listed


def test_reports_export_is_the_import_format(app, client):
    make_hospital(
        app,
        code="A-1",
        reports=(
            {
                "report_date": date(2026, 1, 5),
                "beds_total": 1200,
                "admissions": 31,
                "notes": 'Two lines,\nwith "quotes"',
            },
        ),
    )
    rows = read_csv(client.get("/reports/export.csv"))
    assert rows == [
        REPORT_HEADER,
        [
            "A-1",
            "2026-01-05",
            "1200",
            "150",
            "20",
            "12",
            "15",
            "6",
            "31",
            "25",
            "1",
            'Two lines,\nwith "quotes"',
        ],
    ]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("", "reports-all-{today}.csv"),
        ("?hospital=nrh-001", "reports-nrh-001-{today}.csv"),
        ("?region=Île-de-France", "reports-ile-de-france-{today}.csv"),
        (
            "?date_from=2026-01-01&date_to=2026-03-31",
            "reports-from-2026-01-01-to-2026-03-31-{today}.csv",
        ),
    ],
)
def test_reports_file_name_says_what_and_when(app, client, query, name):
    make_hospital(app, region="Île-de-France")
    response = client.get("/reports/export.csv" + query)
    assert response.status_code == 200
    assert filename(app, response) == name.format(today=today(app))


# --- Both ------------------------------------------------------------------------------------


FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1", "-", "@x", "\tcmd", "'quoted"]


def test_formula_cells_are_neutralised_and_restore_exactly(app, client):
    for n, text in enumerate(FORMULAS):
        make_hospital(
            app,
            code=f"F-{n}",
            name=text,
            region=f"{text} region",
            city=text,
            reports=({"notes": text},),
        )
    hospitals = read_csv(client.get("/hospitals/export.csv?sort=code"))[1:]
    reports = read_csv(client.get("/reports/export.csv"))[1:]
    by_code = {row[0]: row for row in reports}
    for n, text in enumerate(FORMULAS):
        code, name, region, city = hospitals[n][:4]
        assert code == f"F-{n}"
        assert name == city == "'" + text
        assert region == "'" + text + " region"
        assert by_code[code][-1] == "'" + text
        assert restore(name) == text and restore(by_code[code][-1]) == text
    # Text that is not a formula goes out as it is.
    assert read_csv(client.get("/hospitals/export.csv?region=%2B1 region"))[1][4] == "public"


@pytest.mark.parametrize("path", ["/hospitals/export.csv", "/reports/export.csv"])
def test_exports_stream_in_batches(app, client, monkeypatch, path):
    """Rows go out batch by batch as the database returns them, not as one built body."""
    for n in range(5):
        make_hospital(app, code=f"H-{n}", name=f"Hospital {n}")
    monkeypatch.setattr("hospital_app.csvfiles.BATCH", 2)
    response = client.get(path)
    assert response.is_streamed
    chunks = list(response.response)
    # The header, then 2 + 2 + 1 rows.
    assert [c.count(b"\r\n") for c in chunks] == [1, 2, 2, 1]
    response.close()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/hospitals/export.csv?sort=beds", "Sort: “beds” is not one of the choices."),
        ("/hospitals/export.csv?region=Atlantis", "No hospital is in the region “Atlantis”."),
        ("/reports/export.csv?date_from=2026-02-30", "From: “2026-02-30” is not a date"),
        (
            "/reports/export.csv?date_from=2026-03-02&date_to=2026-03-01",
            "The end date (1 Mar 2026) is before the start date (2 Mar 2026).",
        ),
        ("/reports/export.csv?hospital=NOPE", "No hospital has the code “NOPE”."),
    ],
)
def test_invalid_filters_get_the_400_page_not_a_csv(app, client, path, message):
    make_hospital(app)
    response = client.get(path)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "Content-Disposition" not in response.headers
    text = page_text(response)
    assert "These filters cannot be used" in text and message in text


@pytest.mark.parametrize("path", ["/hospitals/export.csv", "/reports/export.csv?region=North"])
def test_anonymous_is_sent_to_sign_in(app, anon, path):
    make_hospital(app)
    response = anon.get(path)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login?next=")
    assert "Northside" not in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/hospitals/export.csv", "/reports/export.csv"])
def test_viewers_may_export(app, login_as, path):
    make_hospital(app)
    rows = read_csv(login_as("viewer").get(path))
    assert len(rows) == 2 and rows[1][0] == "NRH-001"


def test_empty_export_is_the_header_row(client):
    assert read_csv(client.get("/reports/export.csv")) == [REPORT_HEADER]
    assert len(read_csv(client.get("/hospitals/export.csv"))) == 1
