"""/hospitals: create (hospital and first report at once), list, details, edit, archive."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from helpers import (
    confirmation_form,
    count,
    count_queries,
    csrf_token,
    fetch,
    hospital_form,
    make_hospital,
    make_report,
    new_hospital_form,
    page_text,
)
from helpers import shown as shown_day
from helpers import today as app_today

from hospital_app.models import Hospital, Report

# --- Create ----------------------------------------------------------------------------------


def test_root_is_the_dashboard(client):
    # "/" used to redirect to this list; it is the dashboard now (tests/test_dashboard.py).
    response = client.get("/")
    assert response.status_code == 200
    assert "Dashboard" in page_text(response)


def test_new_form_starts_with_today_and_the_cursor_in_the_first_field(client):
    response = client.get("/hospitals/new")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'name="report_date" required type="date" value="{app_today().isoformat()}"' in html
    # autofocus on the code input, and on no other
    assert html.count("autofocus") == 1
    assert "autofocus" in re.search(r'<input[^>]*id="code"[^>]*>', html).group(0)


def test_create_writes_the_hospital_and_its_first_report(app, client, csrf):
    response = client.post("/hospitals/new", data=new_hospital_form(csrf, code=" nrh-001 "))
    assert response.status_code == 303
    with app.app_context():
        from hospital_app.extensions import db

        hospital = db.session.query(Hospital).one()
        report = db.session.query(Report).one()
        assert response.headers["Location"].endswith(f"/hospitals/{hospital.id}")
        assert hospital.code == "NRH-001"  # stored upper-case, trimmed
        assert hospital.is_active and hospital.version == 1
        assert report.hospital_id == hospital.id
        assert report.beds_occupied == 150 and report.notes is None
    page = client.get(response.headers["Location"])
    assert "Northside Regional Hospital (NRH-001) was created" in page_text(page)


def test_region_whitespace_is_normalised_and_matches_an_existing_spelling(app, client, csrf):
    make_hospital(app, code="OLD-1", region="North East")
    response = client.post(
        "/hospitals/new", data=new_hospital_form(csrf, code="NEW-1", region="  north   east ")
    )
    assert response.status_code == 303
    with app.app_context():
        from hospital_app.extensions import db

        assert db.session.query(Hospital).filter_by(code="NEW-1").one().region == "North East"


def test_the_form_offers_the_regions_in_use(app, client):
    make_hospital(app, code="A-1", region="Lakeside")
    make_hospital(app, code="B-1", region="Coastal")
    html = client.get("/hospitals/new").get_data(as_text=True)
    assert (
        '<datalist id="regions"><option value="Coastal"></option><option value="Lakeside">' in html
    )
    assert 'list="regions"' in html


BAD_HOSPITALS = [
    ({"code": ""}, "code", "Enter the hospital's facility code."),
    ({"code": "A"}, "code", "Use 2 to 20 characters"),
    ({"code": "A" * 21}, "code", "Use 2 to 20 characters"),
    ({"code": "AB 12"}, "code", "Use 2 to 20 characters"),
    ({"code": "ÄB-1"}, "code", "Use 2 to 20 characters"),
    ({"name": "   "}, "name", "Enter the hospital's name."),
    ({"name": "N" * 201}, "name", "Keep the name to 200 characters."),
    ({"region": ""}, "region", "Enter the region."),
    ({"region": "R" * 101}, "region", "Keep the region to 100 characters."),
    ({"city": "C" * 101}, "city", "Keep the city to 100 characters."),
    ({"ownership": ""}, "ownership", "Choose who owns the hospital."),
    ({"ownership": "state"}, "ownership", "Not a valid choice"),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_HOSPITALS)
def test_invalid_hospital_saves_nothing_and_says_why_beside_the_field(
    app, client, csrf, change, field, message
):
    data = new_hospital_form(csrf, **change)
    response = client.post("/hospitals/new", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error_block = html.split(f'id="{field}-error"', 1)[1].split("</p>", 1)[0]
    assert message in error_block.replace("&#39;", "'")
    assert 'aria-describedby="' in html and f"{field}-error" in html
    assert count(app, Hospital) == 0 and count(app, Report) == 0
    # what the person typed is kept
    assert 'value="Ashford"' in html or field == "city"


def test_duplicate_code_is_a_field_error_whatever_the_case(app, client, csrf):
    make_hospital(app, code="NRH-001", name="The First One")
    response = client.post("/hospitals/new", data=new_hospital_form(csrf, code="nrh-001"))
    assert response.status_code == 422
    assert "The code NRH-001 is already used by The First One" in page_text(response)
    assert count(app, Hospital) == 1 and count(app, Report) == 1


def test_duplicate_code_found_only_by_the_database_is_still_a_field_error(
    app, client, csrf, monkeypatch
):
    """Two clerks register the same code at once: the form's check passes for both, the
    unique constraint stops the second, and the person sees a field error, not a 500."""
    make_hospital(app, code="NRH-001", name="The First One")
    from hospital_app.hospitals.forms import HospitalForm

    original = HospitalForm.validate_code
    calls = []

    def validate_code_blind_the_first_time(self, field):
        calls.append(field.data)
        if len(calls) == 1:  # the race: the competing row is not visible yet
            return None
        return original(self, field)

    monkeypatch.setattr(HospitalForm, "validate_code", validate_code_blind_the_first_time)
    response = client.post("/hospitals/new", data=new_hospital_form(csrf, code="NRH-001"))
    assert response.status_code == 422
    assert "already used by The First One" in page_text(response)
    assert len(calls) == 2
    assert count(app, Hospital) == 1 and count(app, Report) == 1
    # the worker's next request is served normally
    assert client.get("/hospitals").status_code == 200


def test_post_without_csrf_token_is_refused_and_saves_nothing(app, client):
    data = new_hospital_form("not-a-token")
    response = client.post("/hospitals/new", data=data)
    assert response.status_code == 400
    assert "nothing was saved" in page_text(response)
    assert count(app, Hospital) == 0


# --- List ------------------------------------------------------------------------------------


def test_empty_list_says_what_to_do(client):
    response = client.get("/hospitals")
    assert response.status_code == 200
    assert "No hospitals yet. Register the first hospital" in page_text(response)


def test_list_shows_each_hospitals_latest_report(app, client):
    today = app_today()
    make_hospital(
        app,
        code="A-1",
        name="Alpha",
        reports=(
            {"report_date": today - timedelta(days=2), "beds_occupied": 100},
            {"report_date": today, "beds_total": 400, "beds_occupied": 300},
            {"report_date": today - timedelta(days=1), "beds_occupied": 50},
        ),
    )
    make_hospital(app, code="B-1", name="Bravo", reports=())
    text = page_text(client.get("/hospitals"))
    assert "Alpha Central" not in text
    assert f"{today.day} {today:%b %Y} 75.0 % (300/400)" in text
    assert "Bravo North Ashford Public none yet" in text


def test_list_search_filters_and_archived(app, client):
    make_hospital(app, code="ALP-1", name="Alpha General", region="North", ownership="public")
    make_hospital(app, code="BRV-2", name="Bravo Clinic", region="South", ownership="private")
    make_hospital(app, code="CHL-3", name="Charlie 100% Care", region="South", ownership="public")
    archived = make_hospital(app, code="DLT-4", name="Delta Old", region="North")
    with app.app_context():
        from hospital_app.extensions import db

        db.session.get(Hospital, archived).is_active = False
        db.session.commit()

    def names(query):
        response = client.get("/hospitals" + query)
        assert response.status_code == 200
        text = page_text(response)
        return [n for n in ("Alpha", "Bravo", "Charlie", "Delta") if n in text]

    assert names("") == ["Alpha", "Bravo", "Charlie"]
    assert names("?q=brav") == ["Bravo"]
    assert names("?q=chl-3") == ["Charlie"]  # by code, any case
    assert names("?q=100%25") == ["Charlie"]  # % is a character, not a wildcard
    assert names("?q=_") == []
    assert names("?region=south") == ["Bravo", "Charlie"]
    assert names("?ownership=private") == ["Bravo"]
    assert names("?status=archived") == ["Delta"]
    assert names("?status=all&region=North") == ["Alpha", "Delta"]
    assert "No hospital matches these filters" in page_text(client.get("/hospitals?q=zzz"))


def test_searching_the_active_list_for_an_archived_code_says_it_is_archived(app, client):
    archived = make_hospital(app, code="XYZ-01", name="Old Infirmary", is_active=False)
    make_hospital(app, code="XYZ-010", name="New Infirmary")
    response = client.get("/hospitals?q=xyz-01")  # any case, as the search is
    text = page_text(response)
    assert response.status_code == 200
    assert "XYZ-01 — Old Infirmary is archived" in text
    assert f'href="/hospitals/{archived}">Show it' in response.get_data(as_text=True)
    assert "New Infirmary" in text  # the active match is still listed

    alone = page_text(client.get("/hospitals?q=XYZ-01&ownership=private"))
    assert "Old Infirmary is archived" in alone
    assert "No hospital matches" not in alone

    # Not an exact code, or a list that shows archived hospitals already: no note.
    assert "is archived" not in page_text(client.get("/hospitals?q=XYZ-0"))
    assert "is archived" not in page_text(client.get("/hospitals?q=Old+Infirmary"))
    assert "is archived" not in page_text(client.get("/hospitals?q=XYZ-01&status=all"))
    assert "is archived" not in page_text(client.get("/hospitals?q=XYZ-01&status=archived"))
    assert "No hospital matches" in page_text(client.get("/hospitals?q=QQQ-9"))


def test_list_pages_keep_the_filters(app, client):
    for n in range(12):
        make_hospital(app, code=f"H-{n:02d}", name=f"Hospital {n:02d}", region="East")
    make_hospital(app, code="W-1", name="Westside", region="West")
    first = client.get("/hospitals?region=East")
    assert "Showing 1–5 of 12 hospitals" in page_text(first)
    assert 'href="/hospitals?region=East&amp;page=2"' in first.get_data(as_text=True)
    third = page_text(client.get("/hospitals?region=East&page=3"))
    assert "Showing 11–12 of 12 hospitals" in third
    assert "Hospital 10" in third and "Hospital 11" in third and "Westside" not in third
    beyond = client.get("/hospitals?region=East&page=9")
    assert beyond.status_code == 200
    assert "There is no page 9: the list has 3 pages" in page_text(beyond)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?page=abc", "“abc” is not a page number"),
        ("?page=0", "Page numbers start at 1."),
        ("?page=-3", "Page numbers start at 1."),
        ("?ownership=state", "“state” is not one of the choices."),
        ("?status=deleted", "“deleted” is not one of the choices."),
        ("?q=" + "x" * 300, "Field cannot be longer than 200 characters."),
    ],
)
def test_bad_query_strings_get_a_message_not_a_500(app, client, query, message):
    make_hospital(app)
    response = client.get("/hospitals" + query)
    assert response.status_code == 400
    text = page_text(response)
    assert "These filters cannot be used" in text and message in text
    assert "Northside" not in text


def test_list_queries_do_not_grow_with_the_data(app, client):
    def statements_for_list():
        with count_queries(app) as statements:
            assert client.get("/hospitals").status_code == 200
        return len(statements)

    make_hospital(app, code="ONE-1")
    few = statements_for_list()
    for n in range(12):
        make_hospital(app, code=f"H-{n:02d}", reports=({}, {"report_date": app_today()}))
    assert statements_for_list() == few
    assert few <= 5  # the signed-in account, regions, count, page (latest reports joined in)


# --- Details ---------------------------------------------------------------------------------


def test_detail_shows_the_history_newest_first_and_paginated(app, client):
    today = app_today()
    hospital_id = make_hospital(
        app,
        reports=tuple(
            {"report_date": today - timedelta(days=d), "admissions": d} for d in range(7)
        ),
    )
    response = client.get(f"/hospitals/{hospital_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    text = page_text(response)
    assert "Northside Regional Hospital NRH-001" in text
    assert "Showing 1–5 of 7 reports" in text
    listed = [today - timedelta(days=d) for d in range(5)]
    positions = [html.index(f"report of {shown_day(d)}") for d in listed]
    assert positions == sorted(positions)
    assert f"report of {shown_day(today - timedelta(days=5))}" not in html
    second = client.get(f"/hospitals/{hospital_id}?page=2").get_data(as_text=True)
    assert f"report of {shown_day(today - timedelta(days=6))}" in second


def test_detail_queries_do_not_grow_with_the_history(app, client):
    hospital_id = make_hospital(app)
    with count_queries(app) as few:
        client.get(f"/hospitals/{hospital_id}")
    for d in range(2, 12):
        make_report(app, hospital_id, report_date=app_today() - timedelta(days=d))
    with count_queries(app) as many:
        client.get(f"/hospitals/{hospital_id}")
    # the signed-in account, hospital, count, page, the occupancy chart's days, the reporting
    # settings and the reporting calendar's days
    assert len(many) == len(few) <= 7


@pytest.mark.parametrize(
    "url",
    ["/hospitals/999999", "/hospitals/999999/edit", "/hospitals/abc", "/hospitals/-1"],
)
def test_unknown_hospital_is_a_404_page(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert "Page not found" in page_text(response)


@pytest.mark.parametrize("action", ["archive", "restore"])
def test_archive_and_restore_of_unknown_hospital_is_a_404(client, csrf, action):
    assert client.post(f"/hospitals/999999/{action}", data={"csrf_token": csrf}).status_code == 404


def test_bad_page_on_detail_is_a_message(app, client):
    hospital_id = make_hospital(app)
    response = client.get(f"/hospitals/{hospital_id}?page=x")
    assert response.status_code == 400
    assert "“x” is not a page number" in page_text(response)


# --- Edit ------------------------------------------------------------------------------------


def test_edit_form_shows_the_current_values(app, client):
    hospital_id = make_hospital(app)
    html = client.get(f"/hospitals/{hospital_id}/edit").get_data(as_text=True)
    assert 'value="NRH-001"' in html and 'value="Northside Regional Hospital"' in html
    assert '<option selected value="public">' in html


def test_edit_saves_and_raises_the_version(app, client, csrf):
    hospital_id = make_hospital(app)
    data = hospital_form(csrf, name="Northside General", city="")
    response = client.post(f"/hospitals/{hospital_id}/edit", data=data)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/hospitals/{hospital_id}")
    hospital = fetch(app, Hospital, hospital_id)
    assert hospital.name == "Northside General" and hospital.city is None
    assert hospital.version == 2
    assert "Northside General (NRH-001) was saved." in page_text(
        client.get(f"/hospitals/{hospital_id}")
    )


def test_edit_with_no_change_writes_nothing(app, client, csrf):
    hospital_id = make_hospital(app)
    data = hospital_form(csrf)
    response = client.post(f"/hospitals/{hospital_id}/edit", data=data)
    assert response.status_code == 303
    assert fetch(app, Hospital, hospital_id).version == 1
    assert "Nothing was changed." in page_text(client.get(f"/hospitals/{hospital_id}"))


def test_edit_to_another_hospitals_code_is_a_field_error(app, client, csrf):
    make_hospital(app, code="TAKEN-1", name="Other Hospital")
    hospital_id = make_hospital(app, code="MINE-1")
    data = hospital_form(csrf, code="taken-1")
    response = client.post(f"/hospitals/{hospital_id}/edit", data=data)
    assert response.status_code == 422
    assert "The code TAKEN-1 is already used by Other Hospital" in page_text(response)
    assert fetch(app, Hospital, hospital_id).code == "MINE-1"


def test_edit_keeping_its_own_code_is_fine(app, client, csrf):
    hospital_id = make_hospital(app, code="MINE-1")
    data = hospital_form(csrf, code="mine-1", name="Renamed")
    assert client.post(f"/hospitals/{hospital_id}/edit", data=data).status_code == 303
    assert fetch(app, Hospital, hospital_id).name == "Renamed"


def test_edit_invalid_keeps_the_input_and_changes_nothing(app, client, csrf):
    hospital_id = make_hospital(app)
    data = hospital_form(csrf, name="Typed Name", region="")
    response = client.post(f"/hospitals/{hospital_id}/edit", data=data)
    assert response.status_code == 422
    assert 'value="Typed Name"' in response.get_data(as_text=True)
    assert fetch(app, Hospital, hospital_id).name == "Northside Regional Hospital"


# --- Archive and restore ---------------------------------------------------------------------


def test_archive_hides_from_the_list_and_restore_brings_back(app, client, csrf):
    hospital_id = make_hospital(app)
    response = client.post(f"/hospitals/{hospital_id}/archive", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert fetch(app, Hospital, hospital_id).is_active is False
    detail = page_text(client.get(f"/hospitals/{hospital_id}"))
    assert "was archived" in detail and "Restore" in detail
    assert "Northside" not in page_text(client.get("/hospitals"))
    assert "Northside" in page_text(client.get("/hospitals?status=archived"))

    response = client.post(f"/hospitals/{hospital_id}/restore", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert fetch(app, Hospital, hospital_id).is_active is True
    assert "Northside" in page_text(client.get("/hospitals"))


def test_archiving_twice_says_so_and_changes_nothing(app, client, csrf):
    hospital_id = make_hospital(app)
    client.post(f"/hospitals/{hospital_id}/archive", data={"csrf_token": csrf})
    client.post(f"/hospitals/{hospital_id}/archive", data={"csrf_token": csrf})
    assert fetch(app, Hospital, hospital_id).version == 2
    assert "is already archived" in page_text(client.get(f"/hospitals/{hospital_id}"))


def test_archive_needs_a_post_with_a_token(app, client):
    hospital_id = make_hospital(app)
    assert client.get(f"/hospitals/{hospital_id}/archive").status_code == 200  # asks first
    assert client.post(f"/hospitals/{hospital_id}/archive").status_code == 400
    assert fetch(app, Hospital, hospital_id).is_active is True


def test_archive_asks_for_confirmation_first(app, client):
    hospital_id = make_hospital(app)
    detail = client.get(f"/hospitals/{hospital_id}").get_data(as_text=True)
    assert f'href="/hospitals/{hospital_id}/archive"' in detail
    assert f'action="/hospitals/{hospital_id}/archive"' not in detail  # no one-click archive
    response = client.get(f"/hospitals/{hospital_id}/archive")
    text = page_text(response)
    assert response.status_code == 200
    assert "Archive Northside Regional Hospital (NRH-001)?" in text
    assert "takes no new reports" in text and "Keep it active" in text
    assert fetch(app, Hospital, hospital_id).is_active is True  # asking changed nothing

    form = confirmation_form(client, f"/hospitals/{hospital_id}/archive")
    response = client.post(f"/hospitals/{hospital_id}/archive", data=form)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/hospitals/{hospital_id}"
    assert fetch(app, Hospital, hospital_id).is_active is False
    # Archived: asking again only says so; restoring needs no confirmation.
    response = client.get(f"/hospitals/{hospital_id}/archive", follow_redirects=True)
    assert "is already archived" in page_text(response)
    assert f'action="/hospitals/{hospital_id}/restore"' in response.get_data(as_text=True)


def test_archive_confirmed_after_someone_elses_edit_changes_nothing(app, client, csrf):
    hospital_id = make_hospital(app)
    form = confirmation_form(client, f"/hospitals/{hospital_id}/archive")
    edit = hospital_form(csrf, name="Renamed Meanwhile")
    assert client.post(f"/hospitals/{hospital_id}/edit", data=edit).status_code == 303
    response = client.post(f"/hospitals/{hospital_id}/archive", data=form)
    assert response.status_code == 303
    assert "after you opened it, so nothing was saved" in page_text(
        client.get(f"/hospitals/{hospital_id}")
    )
    assert fetch(app, Hospital, hospital_id).is_active is True


def test_archive_page_of_unknown_hospital_is_a_404(client):
    assert client.get("/hospitals/999999/archive").status_code == 404


def test_csrf_token_from_one_page_serves_every_form(app, client):
    hospital_id = make_hospital(app)
    token = csrf_token(client, f"/hospitals/{hospital_id}/edit")
    assert (
        client.post(f"/hospitals/{hospital_id}/archive", data={"csrf_token": token}).status_code
        == 303
    )


def test_text_is_escaped_everywhere_it_is_shown(app, client, csrf):
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    data = new_hospital_form(csrf, name=payload, region=payload, city=payload, notes=payload)
    response = client.post("/hospitals/new", data=data)
    assert response.status_code == 303
    for url in ("/hospitals", response.headers["Location"], "/hospitals/new"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert" in html


def test_an_empty_form_lists_every_error_in_the_order_of_the_page(app, client, csrf):
    response = client.post("/hospitals/new", data={"csrf_token": csrf, "report_date": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    summary = html.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    links = re.findall(r'href="#([a-z_]+)"', summary)
    # The report's part: the day's figures, then the capacity (as the page draws them).
    assert links == [
        *("code", "name", "region", "ownership", "report_date"),
        *("beds_occupied", "icu_beds_occupied", "ventilators_in_use"),
        *("admissions", "discharges", "deaths"),
        *("beds_total", "icu_beds_total", "ventilators_total"),
    ]
    assert "autofocus" in re.search(r'<input[^>]*id="code"[^>]*>', html).group(0)
    assert count(app, Hospital) == 0


def test_a_body_larger_than_the_cap_gets_the_413_page(app, client, csrf):
    data = new_hospital_form(csrf, notes="n" * (app.config["MAX_CONTENT_LENGTH"] + 1))
    response = client.post("/hospitals/new", data=data)
    assert response.status_code == 413
    assert "larger than this site accepts" in page_text(response)
    assert count(app, Hospital) == 0


def test_unknown_method_gets_the_405_page(client):
    response = client.delete("/hospitals")
    assert response.status_code == 405
    assert "does not accept that kind of request" in page_text(response)
