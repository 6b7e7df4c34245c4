"""The data-entry page (/entry) and the way through it: a clerk's hospitals with the day's
state, the report form reached from there, and "Save and next hospital"."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers import (
    count,
    count_queries,
    csrf_token,
    form_data,
    login,
    make_hospital,
    make_user,
    page_text,
    report_values,
    shown,
    today,
    yesterday,
)

from hospital_app.models import Report
from hospital_app.rules import CAPACITY_FIELDS, DAY_FIGURES

# A row of the grid: the day's figures, then the capacity.
GRID_FIELDS = (*DAY_FIGURES, *CAPACITY_FIELDS)


def rows(response) -> list[str]:
    """The entry table's rows, as a person reads each."""
    body = response.get_data(as_text=True).split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in body.split("</tr>")[:-1]]


def location(response) -> tuple[str, dict]:
    parts = urlsplit(response.headers["Location"])
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


@pytest.fixture
def clerk(app, login_as):
    """An editor of three hospitals (Alpha has today's report), and a hospital not theirs."""
    alpha = make_hospital(
        app, code="ALP-1", name="Alpha Hospital", reports=({"report_date": today()},)
    )
    beta = make_hospital(app, code="BET-1", name="Beta Hospital", reports=({},))
    gamma = make_hospital(app, code="GAM-1", name="Gamma Hospital", reports=({},))
    make_hospital(app, code="OTH-1", name="Other Hospital")
    client = login_as("editor", hospitals=(alpha, beta, gamma))
    return client, {"alpha": alpha, "beta": beta, "gamma": gamma}


def test_an_editor_sees_their_hospitals_to_do_first(clerk):
    client, _ids = clerk
    response = client.get("/entry")
    assert response.status_code == 200
    text = page_text(response)
    assert f"Data entry {shown(today())}" in text
    assert "2 of 3 hospitals still to do" in text
    listed = rows(response)
    assert [r.split(" ")[0] for r in listed] == ["BET-1", "GAM-1", "ALP-1"]
    assert "To do" in listed[0] and "Enter report" in listed[0]
    # Entered: by whom and when (the audit trail's entry of the report, if any), and Edit.
    assert "Entered" in listed[2] and "Edit" in listed[2]
    assert "Other Hospital" not in text


def test_entered_says_by_whom(app, client):
    hospital_id = make_hospital(app, reports=())
    form = client.get(f"/hospitals/{hospital_id}/reports/new?date={today()}&entry=1")
    data = form_data(report_values(report_date=today()))
    data["csrf_token"] = csrf_token(client, f"/hospitals/{hospital_id}/reports/new")
    assert form.status_code == 200
    client.post(f"/hospitals/{hospital_id}/reports/new?entry=1&date={today()}", data=data)
    listed = rows(client.get("/entry"))
    assert "Entered by Ada Admin" in listed[0]


def test_a_day_with_everything_entered_says_so(app, login_as):
    hospital_id = make_hospital(app, reports=({"report_date": yesterday()},))
    client = login_as("editor", hospitals=(hospital_id,))
    text = page_text(client.get(f"/entry?date={yesterday()}"))
    assert f"The day is complete: every hospital has its report for {shown(yesterday())}" in text
    assert "Enter report" not in text


def test_another_day_and_its_links(clerk):
    client, _ids = clerk
    response = client.get(f"/entry?date={yesterday()}")
    text = page_text(response)
    assert f"Data entry {shown(yesterday())}" in text
    assert "1 of 3 hospitals still to do" in text  # the others reported yesterday
    html = response.get_data(as_text=True)
    assert f"date={yesterday()}" in html and "Next day" in text
    # Today has no next day: reports cannot be for the future.
    assert "Next day" not in page_text(client.get("/entry"))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date=2026-02-30", "“2026-02-30” is not a date"),
        ("date=tomorrow", "“tomorrow” is not a date"),
        ("date=1999-12-31", "cannot be before 1 Jan 2000"),
        ("date=" + (today() + timedelta(days=1)).isoformat(), "cannot be in the future"),
        ("region=Nowhere", "No hospital is in the region “Nowhere”"),
    ],
)
def test_a_day_or_region_that_cannot_be_used_is_a_400(app, client, query, message):
    make_hospital(app)
    response = client.get(f"/entry?{query}")
    assert response.status_code == 400
    assert message in page_text(response)
    assert "Show today" in page_text(response)


def test_an_administrator_sees_every_active_hospital_and_filters_by_region(app, client):
    make_hospital(app, code="NOR-1", name="North One", region="North")
    make_hospital(app, code="SOU-1", name="South One", region="South")
    make_hospital(app, code="OLD-1", name="Old One", region="North", is_active=False)
    listed = rows(client.get("/entry"))
    assert [r.split(" ")[0] for r in listed] == ["NOR-1", "SOU-1"]
    listed = rows(client.get("/entry?region=south"))
    assert [r.split(" ")[0] for r in listed] == ["SOU-1"]


def test_an_editor_without_hospitals_is_told_who_assigns_them(app, login_as):
    make_hospital(app)
    client = login_as("editor")
    assert "No hospital is assigned to you yet" in page_text(client.get("/entry"))


def test_a_viewer_is_told_why_not(app, login_as):
    client = login_as("viewer")
    response = client.get("/entry")
    assert response.status_code == 403
    assert "can see reports but not change them" in page_text(response)


def test_editors_land_on_data_entry_and_others_on_the_dashboard(app, anon):
    hospital_id = make_hospital(app)
    make_user(app, "editor", email="clerk@example.org", hospitals=(hospital_id,))
    make_user(app, "viewer", email="viewer@example.org")
    assert login(anon, "clerk@example.org").headers["Location"] == "/entry"
    other = app.test_client()
    assert login(other, "viewer@example.org").headers["Location"] == "/"
    # The main menu puts data entry first for an editor.
    nav = anon.get("/entry").get_data(as_text=True).split('aria-label="Main"', 1)[1]
    assert nav.index("Data entry") < nav.index("Dashboard")


def test_the_page_costs_the_same_queries_for_1_and_12_hospitals(app, client):
    def queries_for_page() -> int:
        client.get("/entry")  # warm: the session's account is loaded the same way each time
        with count_queries(app) as statements:
            assert client.get("/entry").status_code == 200
        return len(statements)

    make_hospital(app, code="ONE-1", reports=({"report_date": today()},))
    one = queries_for_page()
    for n in range(11):
        report = ({"report_date": today()},) if n % 2 else ()
        make_hospital(app, code=f"MAN-{n}", name=f"Hospital {n}", reports=report)
    assert queries_for_page() == one


# --- The report form reached from the entry page -----------------------------------------


def entry_form(client, hospital_id: int, day=None) -> tuple[str, str]:
    """The report form as the entry page's link opens it: its HTML and CSRF token."""
    day = day or today()
    response = client.get(f"/hospitals/{hospital_id}/reports/new?date={day}&entry=1")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    return html, re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_the_form_from_the_entry_page_offers_save_and_next(clerk):
    client, ids = clerk
    html, _token = entry_form(client, ids["beta"])
    buttons = re.findall(r"<button[^>]*>([^<]+)</button>", html.split("record-form", 1)[1])
    # The first button is the one Enter presses.
    assert buttons[:2] == ["Save and next hospital", "Save"]
    # The day comes from the entry page; the cursor starts in the first figure to type.
    assert re.search(rf'id="report_date"[^>]*value="{today()}"', html)
    assert "autofocus" in re.search(r'<input[^>]*id="beds_occupied"[^>]*>', html).group(0)
    assert html.count("autofocus") == 1
    # Capacity comes last, filled in from the previous report.
    order = [m for m in re.findall(r'<input[^>]*id="([a-z_]+)"', html) if m != "csrf_token"]
    assert order.index("deaths") < order.index("beds_total")


def test_save_and_next_goes_through_every_hospital_to_do_then_back(app, clerk):
    client, ids = clerk
    _html, token = entry_form(client, ids["beta"])
    data = form_data(report_values(report_date=today()))
    data.update(csrf_token=token, then="next")
    response = client.post(
        f"/hospitals/{ids['beta']}/reports/new?date={today()}&entry=1", data=data
    )
    assert response.status_code == 303
    path, query = location(response)
    assert path == f"/hospitals/{ids['gamma']}/reports/new"
    assert query == {"date": today().isoformat(), "entry": "1"}
    page = client.get(response.headers["Location"])
    assert f"The report for {shown(today())} was added to Beta Hospital." in page_text(page)
    assert "Gamma Hospital" in page_text(page)

    response = client.post(response.headers["Location"], data=data)
    assert location(response) == ("/entry", {"date": today().isoformat()})
    text = page_text(client.get(response.headers["Location"]))
    assert "The day is complete" in text
    assert count(app, Report, Report.report_date == today()) == 3


def test_save_alone_returns_to_the_entry_page(app, clerk):
    client, ids = clerk
    _html, token = entry_form(client, ids["beta"])
    data = form_data(report_values(report_date=today()))
    data["csrf_token"] = token
    response = client.post(
        f"/hospitals/{ids['beta']}/reports/new?date={today()}&entry=1", data=data
    )
    assert location(response) == ("/entry", {"date": today().isoformat()})
    assert "1 of 3 hospitals still to do" in page_text(client.get("/entry"))


def test_save_and_next_goes_round_to_a_hospital_skipped_earlier(app, clerk):
    client, ids = clerk
    # Gamma first (Beta skipped): the next one still to do is Beta, from the start again.
    _html, token = entry_form(client, ids["gamma"])
    data = form_data(report_values(report_date=today()))
    data.update(csrf_token=token, then="next")
    response = client.post(
        f"/hospitals/{ids['gamma']}/reports/new?date={today()}&entry=1", data=data
    )
    assert location(response)[0] == f"/hospitals/{ids['beta']}/reports/new"


def test_save_and_next_follows_the_day_saved(app, clerk):
    """The clerk changed the form's date: the next hospital is the next one to do that day."""
    client, ids = clerk
    earlier = today() - timedelta(days=2)
    _html, token = entry_form(client, ids["alpha"])
    data = form_data(report_values(report_date=earlier))
    data.update(csrf_token=token, then="next")
    response = client.post(
        f"/hospitals/{ids['alpha']}/reports/new?date={today()}&entry=1", data=data
    )
    path, query = location(response)
    assert path == f"/hospitals/{ids['beta']}/reports/new"
    assert query["date"] == earlier.isoformat()


def test_a_wrong_figure_keeps_the_way_back_to_entry(app, clerk):
    client, ids = clerk
    _html, token = entry_form(client, ids["beta"])
    data = form_data(report_values(report_date=today(), beds_occupied=999))
    data.update(csrf_token=token, then="next")
    response = client.post(
        f"/hospitals/{ids['beta']}/reports/new?date={today()}&entry=1", data=data
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Save and next hospital" in html
    assert f'action="/hospitals/{ids["beta"]}/reports/new?date={today()}&amp;entry=1"' in html
    assert count(app, Report, Report.report_date == today()) == 1


def test_editing_from_the_entry_page_returns_there(app, clerk):
    client, ids = clerk
    with app.app_context():
        from hospital_app.extensions import db

        report = (
            db.session.query(Report).filter_by(hospital_id=ids["alpha"], report_date=today()).one()
        )
        report_id, version = report.id, report.version
    html = client.get(f"/reports/{report_id}/edit?date={today()}&entry=1").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    data = form_data(report_values(report_date=today(), admissions=7))
    data.update(csrf_token=token, version=version)
    response = client.post(f"/reports/{report_id}/edit?date={today()}&entry=1", data=data)
    assert location(response) == ("/entry", {"date": today().isoformat()})


def test_an_editor_cannot_reach_another_hospital_through_save_and_next(app, clerk):
    client, ids = clerk
    other = make_hospital(app, code="ZZZ-1", name="Zulu Hospital", reports=())
    _html, token = entry_form(client, ids["beta"])
    data = form_data(report_values(report_date=today()))
    data.update(csrf_token=token, then="next")
    client.post(f"/hospitals/{ids['beta']}/reports/new?date={today()}&entry=1", data=data)
    response = client.post(
        f"/hospitals/{ids['gamma']}/reports/new?date={today()}&entry=1", data=data
    )
    # Zulu is to do, but not the editor's: the day is complete for them.
    assert location(response)[0] == "/entry"
    assert count(app, Report, Report.hospital_id == other) == 0


# --- What the grid's save costs --------------------------------------------------------------


def test_a_grid_save_costs_the_same_statements_whatever_the_history(app, client):
    """Issue 15: saving a row reads a fixed number of statements, not one per report of the
    hospital's past (the report form's checks, outliers.py)."""

    def statements_to_save(days: int) -> list[str]:
        # Reports up to yesterday: today's is to do. Only the newest has the row's capacity,
        # so both histories' rows run the same checks to the same end.
        hospital_id = make_hospital(
            app,
            code=f"HIS-{days}",
            name=f"Hospital with {days} reports",
            reports=tuple(
                {
                    "report_date": yesterday() - timedelta(days=n),
                    **({"beds_total": 210} if n else {}),
                }
                for n in range(days)
            ),
        )
        # Yesterday's 150 beds + 30 admitted - 25 discharged - 1 death: the census adds up.
        figures = form_data(report_values(beds_occupied=154))
        data = {"csrf_token": csrf_token(client, "/entry/grid")} | {
            f"h{hospital_id}-{name}": figures[name] for name in GRID_FIELDS
        }
        with count_queries(app) as statements:
            response = client.post(f"/entry/grid?date={today().isoformat()}", data=data)
        assert response.status_code == 303, page_text(response)
        saved = count(app, Report, Report.hospital_id == hospital_id, Report.report_date == today())
        assert saved == 1
        return statements

    short, long = statements_to_save(1), statements_to_save(400)
    assert len(long) == len(short), "\n".join(long)
