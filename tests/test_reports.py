"""Daily reports: every rule in the form, add, edit, delete."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from helpers import (
    BAD_REPORTS,
    count,
    count_queries,
    fetch,
    form_data,
    make_hospital,
    make_report,
    new_hospital_form,
    page_text,
    report_form,
    report_values,
    shown,
    today,
    yesterday,
)

from hospital_app import rules
from hospital_app.models import Hospital, Report


def error_beside(response, field: str) -> str:
    """The error text shown beside `field` ('' when none)."""
    match = re.search(rf'id="{field}-error">(.*?)</p>', response.get_data(as_text=True), re.S)
    return re.sub(r"<[^>]+>", " ", match.group(1)).replace("&#39;", "'") if match else ""


@pytest.mark.parametrize(("change", "field", "message"), BAD_REPORTS)
def test_every_report_rule_in_the_new_report_form(app, client, csrf, change, field, message):
    hospital_id = make_hospital(app, reports=())
    data = report_form(csrf, **change)
    response = client.post(f"/hospitals/{hospital_id}/reports/new", data=data)
    assert response.status_code == 422
    assert message in error_beside(response, field)
    assert count(app, Report) == 0


@pytest.mark.parametrize(("change", "field", "message"), BAD_REPORTS)
def test_every_report_rule_in_the_create_form_saves_neither_row(
    app, client, csrf, change, field, message
):
    response = client.post("/hospitals/new", data=new_hospital_form(csrf, **change))
    assert response.status_code == 422
    assert message in error_beside(response, field)
    assert count(app, Hospital) == 0 and count(app, Report) == 0


def test_several_errors_are_all_shown_at_once(app, client, csrf):
    hospital_id = make_hospital(app, reports=())
    data = {
        **form_data(report_values(beds_occupied=999, ventilators_in_use=99, deaths="x")),
        "csrf_token": csrf,
    }
    response = client.post(f"/hospitals/{hospital_id}/reports/new", data=data)
    assert response.status_code == 422
    assert error_beside(response, "beds_occupied")
    assert error_beside(response, "ventilators_in_use")
    assert error_beside(response, "deaths")
    assert "Nothing was saved: 3 fields to correct" in page_text(response)
    html = response.get_data(as_text=True)
    # the cursor goes to the first field to correct
    assert "autofocus" in re.search(r'<input[^>]*id="beds_occupied"[^>]*>', html).group(0)
    assert html.count("autofocus") == 1
    # the figures typed are kept
    assert 'value="999"' in html


def test_limits_themselves_are_accepted(app, client, csrf):
    hospital_id = make_hospital(app, reports=())
    values = report_values(
        beds_total=rules.MAX_COUNT,
        beds_occupied=rules.MAX_COUNT,
        icu_beds_total=0,
        icu_beds_occupied=0,
        ventilators_total=0,
        ventilators_in_use=0,
        admissions=0,
        discharges=rules.MAX_COUNT,
        deaths=0,
        report_date=today(),
        notes="n" * 2000,
    )
    data = {**form_data(values), "csrf_token": csrf}
    assert client.post(f"/hospitals/{hospital_id}/reports/new", data=data).status_code == 303
    assert count(app, Report, Report.beds_total == rules.MAX_COUNT) == 1


def test_thousands_separators_typed_from_paper_are_understood(app, client, csrf):
    hospital_id = make_hospital(app, reports=())
    data = {
        **form_data(report_values()),
        "beds_total": "1,200",
        "beds_occupied": "1 150",
        "csrf_token": csrf,
    }
    assert client.post(f"/hospitals/{hospital_id}/reports/new", data=data).status_code == 303
    with app.app_context():
        from hospital_app.extensions import db

        report = db.session.query(Report).one()
        assert (report.beds_total, report.beds_occupied) == (1200, 1150)


# --- Add -------------------------------------------------------------------------------------


def test_new_report_starts_with_the_previous_capacity_and_today(app, client):
    hospital_id = make_hospital(
        app,
        reports=(
            {"report_date": today() - timedelta(days=5), "beds_total": 311},
            {
                "report_date": yesterday(),
                "beds_total": 321,
                "icu_beds_total": 32,
                "ventilators_total": 17,
                "admissions": 44,
            },
        ),
    )
    response = client.get(f"/hospitals/{hospital_id}/reports/new")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert re.search(r'id="beds_total"[^>]*value="321"', html)
    assert re.search(r'id="icu_beds_total"[^>]*value="32"', html)
    assert re.search(r'id="ventilators_total"[^>]*value="17"', html)
    # day-to-day figures start empty
    assert not re.search(r'id="admissions"[^>]*value="44"', html)
    assert re.search(rf'id="report_date"[^>]*value="{today().isoformat()}"', html)
    # The cursor starts in the first figure still to type, past the date and the capacity.
    assert "autofocus" in re.search(r'<input[^>]*id="beds_occupied"[^>]*>', html).group(0)
    assert html.count("autofocus") == 1
    assert "filled in from the previous report" in page_text(response)


def test_add_report(app, client, csrf):
    hospital_id = make_hospital(app, reports=())
    data = report_form(csrf, notes="  Ward 3 closed  ")
    response = client.post(f"/hospitals/{hospital_id}/reports/new", data=data)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/hospitals/{hospital_id}")
    with app.app_context():
        from hospital_app.extensions import db

        report = db.session.query(Report).one()
        assert report.hospital_id == hospital_id and report.notes == "Ward 3 closed"
    assert f"The report for {shown(yesterday())} was added" in page_text(
        client.get(f"/hospitals/{hospital_id}")
    )


def test_second_report_for_a_date_is_a_field_error(app, client, csrf):
    hospital_id = make_hospital(app)
    data = report_form(csrf, beds_occupied=1)
    response = client.post(f"/hospitals/{hospital_id}/reports/new", data=data)
    assert response.status_code == 422
    assert "already has a report for" in error_beside(response, "report_date")
    assert count(app, Report) == 1
    assert count(app, Report, Report.beds_occupied == 1) == 0


def test_second_report_found_only_by_the_database_is_still_a_field_error(
    app, client, csrf, monkeypatch
):
    hospital_id = make_hospital(app)
    from hospital_app.report_entry import ReportForm

    original = ReportForm.validate_report_date
    calls = []

    def blind_the_first_time(self, field):
        calls.append(1)
        return None if len(calls) == 1 else original(self, field)

    monkeypatch.setattr(ReportForm, "validate_report_date", blind_the_first_time)
    data = report_form(csrf)
    response = client.post(f"/hospitals/{hospital_id}/reports/new", data=data)
    assert response.status_code == 422
    assert "already has a report for" in error_beside(response, "report_date")
    assert count(app, Report) == 1


def test_same_date_at_another_hospital_is_fine(app, client, csrf):
    make_hospital(app, code="A-1")
    other = make_hospital(app, code="B-1", reports=())
    data = report_form(csrf)
    assert client.post(f"/hospitals/{other}/reports/new", data=data).status_code == 303
    assert count(app, Report) == 2


def test_archived_hospital_takes_no_new_report(app, client, csrf):
    hospital_id = make_hospital(app, reports=())
    client.post(f"/hospitals/{hospital_id}/archive", data={"csrf_token": csrf})
    page = client.get(f"/hospitals/{hospital_id}/reports/new")
    assert page.status_code == 409
    assert "is archived" in page_text(page) and "Restore" in page_text(page)
    data = report_form(csrf)
    response = client.post(f"/hospitals/{hospital_id}/reports/new", data=data)
    assert response.status_code == 409
    assert "Nothing was changed" in page_text(response)
    assert count(app, Report) == 0


def test_an_archived_hospitals_reports_are_closed_to_everyone(app, client, csrf, login_as):
    """One rule, the policy's: an archived hospital's reports are neither changed nor deleted,
    by an administrator either; the editor is told who can restore it and gets no button."""
    hospital_id = make_hospital(app)
    report_id = make_report(app, hospital_id, report_date=yesterday() - timedelta(days=1))
    editor = login_as("editor", hospitals=(hospital_id,))
    client.post(f"/hospitals/{hospital_id}/archive", data={"csrf_token": csrf})
    before = fetch(app, Report, report_id)
    edit = report_form(csrf, report_date=before.report_date, beds_occupied=10, version=1)
    for response in (
        client.get(f"/reports/{report_id}/edit"),
        client.post(f"/reports/{report_id}/edit", data=edit),
        client.post(f"/reports/{report_id}/delete", data={"csrf_token": csrf, "version": 1}),
    ):
        assert response.status_code == 409
        assert "is archived, so its reports cannot be added, changed or deleted" in (
            page_text(response)
        )
        assert "Restore it first" in page_text(response)
    page = editor.get(f"/reports/{report_id}/edit")
    assert page.status_code == 409
    assert "An administrator can restore it" in page_text(page)
    assert "Restore Northside" not in page_text(page)
    after = fetch(app, Report, report_id)
    assert (after.beds_occupied, after.version) == (before.beds_occupied, before.version)


def test_new_report_for_unknown_hospital_is_a_404(client, csrf):
    assert client.get("/hospitals/424242/reports/new").status_code == 404
    data = report_form(csrf)
    assert client.post("/hospitals/424242/reports/new", data=data).status_code == 404


# --- Edit ------------------------------------------------------------------------------------


def test_edit_report(app, client, csrf):
    hospital_id = make_hospital(app, reports=())
    report_id = make_report(app, hospital_id)
    page = client.get(f"/reports/{report_id}/edit")
    assert page.status_code == 200
    assert re.search(r'id="beds_occupied"[^>]*value="150"', page.get_data(as_text=True))
    data = report_form(csrf, beds_occupied=160, notes="corrected")
    response = client.post(f"/reports/{report_id}/edit", data=data)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/hospitals/{hospital_id}")
    report = fetch(app, Report, report_id)
    assert (report.beds_occupied, report.notes, report.version) == (160, "corrected", 2)


def test_edit_report_keeps_its_own_date_but_not_anothers(app, client, csrf):
    hospital_id = make_hospital(app, reports=())
    first = make_report(app, hospital_id, report_date=yesterday())
    make_report(app, hospital_id, report_date=yesterday() - timedelta(days=1))
    # 151 adds up with the day before's 150 (the census check, rules.census_gap).
    data = report_form(csrf, beds_occupied=151)
    assert client.post(f"/reports/{first}/edit", data=data).status_code == 303
    clash = {**data, "report_date": (yesterday() - timedelta(days=1)).isoformat()}
    response = client.post(f"/reports/{first}/edit", data=clash)
    assert response.status_code == 422
    assert "already has a report for" in error_beside(response, "report_date")
    assert fetch(app, Report, first).report_date == yesterday()


def test_edit_report_with_a_broken_rule_changes_nothing(app, client, csrf):
    report_id = make_report(app, make_hospital(app, reports=()))
    data = report_form(csrf, icu_beds_occupied=500)
    response = client.post(f"/reports/{report_id}/edit", data=data)
    assert response.status_code == 422
    assert 'value="500"' in response.get_data(as_text=True)
    assert fetch(app, Report, report_id).icu_beds_occupied == 12


def test_edit_unknown_report_is_a_404(client):
    assert client.get("/reports/31337/edit").status_code == 404


# --- Delete ----------------------------------------------------------------------------------


def test_delete_asks_first_then_deletes(app, client, csrf):
    hospital_id = make_hospital(app, reports=())
    report_id = make_report(app, hospital_id)
    confirm = client.get(f"/reports/{report_id}/delete")
    assert confirm.status_code == 200
    assert "Delete the report of" in page_text(confirm) and "cannot be undone" in page_text(confirm)
    assert count(app, Report) == 1  # asking deletes nothing
    response = client.post(f"/reports/{report_id}/delete", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert count(app, Report) == 0 and count(app, Hospital) == 1
    assert "was deleted" in page_text(client.get(f"/hospitals/{hospital_id}"))
    # Deleting it again: it is gone, and the page says who deleted it (410), nothing changes.
    assert client.post(f"/reports/{report_id}/delete", data={"csrf_token": csrf}).status_code == 410


def test_delete_without_token_deletes_nothing(app, client):
    report_id = make_report(app, make_hospital(app, reports=()))
    assert client.post(f"/reports/{report_id}/delete").status_code == 400
    assert count(app, Report) == 1


def test_a_new_report_locks_its_hospital_against_a_simultaneous_archive(app, client, csrf, backend):
    """The archived check and the insert must not be split by an archive in between: on the
    server databases the hospital row is read with a shared lock."""
    hospital_id = make_hospital(app, reports=())
    data = report_form(csrf)
    with count_queries(app) as statements:
        assert client.post(f"/hospitals/{hospital_id}/reports/new", data=data).status_code == 303
    lock = {
        "postgresql": "FOR SHARE",
        "mysql": "LOCK IN SHARE MODE",
        "mariadb": "LOCK IN SHARE MODE",
    }
    hospital_reads = [
        s for s in statements if s.lstrip().startswith("SELECT") and "FROM hospitals" in s
    ]
    if backend in lock:
        assert any(lock[backend] in s for s in hospital_reads), hospital_reads
    else:  # SQLite has no row locks; its single writer serialises the transactions
        assert hospital_reads


def test_a_taken_date_links_to_the_report_that_has_it(app, client, csrf):
    hospital_id = make_hospital(app, reports=())
    existing = make_report(app, hospital_id, report_date=today())
    page = client.get(f"/hospitals/{hospital_id}/reports/new")
    assert f"already has a report for {shown(today())}" in page_text(page)
    assert f'href="/reports/{existing}/edit"' in page.get_data(as_text=True)
    data = {**form_data(report_values(report_date=today())), "csrf_token": csrf}
    response = client.post(f"/hospitals/{hospital_id}/reports/new", data=data)
    assert response.status_code == 422
    assert f'href="/reports/{existing}/edit">Open the existing report' in response.get_data(
        as_text=True
    )


def test_the_new_report_form_starts_at_the_asked_date(app, client):
    """The dashboard's list of hospitals still to report links with ?date= of the day shown,
    so a missing past day is not entered under today's date by mistake."""
    hospital_id = make_hospital(app, reports=())
    past = today() - timedelta(days=6)
    page = client.get(f"/hospitals/{hospital_id}/reports/new?date={past.isoformat()}")
    assert f'value="{past.isoformat()}"' in page.get_data(as_text=True)
    for unusable in ("yesterday", (today() + timedelta(days=2)).isoformat(), "1999-01-01"):
        page = client.get(f"/hospitals/{hospital_id}/reports/new?date={unusable}")
        assert f'value="{today().isoformat()}"' in page.get_data(as_text=True)

    dashboard = client.get(f"/?date={past.isoformat()}").get_data(as_text=True)
    assert f"/hospitals/{hospital_id}/reports/new?date={past.isoformat()}" in dashboard


# --- What a save costs -----------------------------------------------------------------------


def hospital_with_history(app, days: int) -> int:
    """A hospital with `days` daily reports, the newest the day before yesterday. Only that one
    has the form's capacity (200 beds), so a long history asks no "capacity unchanged"
    question: a short and a long history's saves run the same checks to the same end."""
    newest = yesterday() - timedelta(days=1)
    return make_hospital(
        app,
        code=f"HIS-{days}",
        name=f"Hospital with {days} reports",
        reports=tuple(
            {"report_date": newest - timedelta(days=n), **({"beds_total": 210} if n else {})}
            for n in range(days)
        ),
    )


@pytest.mark.parametrize("action", ["create", "edit"])
def test_a_save_costs_the_same_statements_whatever_the_history(app, client, csrf, action):
    """Issue 15: the checks of a report (its date, unusual figures, the capacity question)
    read a fixed number of statements, not one per report of the hospital's past."""

    def statements_to_save(days: int) -> list[str]:
        hospital_id = hospital_with_history(app, days)
        if action == "create":
            url = f"/hospitals/{hospital_id}/reports/new"
        else:
            url = f"/reports/{make_report(app, hospital_id)}/edit"
        # 151 adds up with the day before's 150 (the census check, rules.census_gap).
        with count_queries(app) as statements:
            response = client.post(url, data=report_form(csrf, beds_occupied=151))
        assert response.status_code == 303
        saved = count(
            app,
            Report,
            Report.hospital_id == hospital_id,
            Report.report_date == yesterday(),
            Report.beds_occupied == 151,
        )
        assert saved == 1
        return statements

    short, long = statements_to_save(1), statements_to_save(400)
    assert len(long) == len(short), "\n".join(long)
