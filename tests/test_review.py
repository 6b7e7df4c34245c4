"""The review of a region's day and its sign-off (issue 13, points 1, 2 and 6): what the page
shows, signing off all or nothing, two reviewers at once, reopening with a reason, and that
no path lets an editor change a signed-off report."""

from __future__ import annotations

import csv
import io
import threading
from datetime import timedelta

import pytest
from helpers import (
    confirmation_form,
    count_queries,
    csrf_token,
    fetch,
    form_data,
    fresh_app,
    hidden_fields,
    make_hospital,
    make_user,
    page_text,
    report_form,
    report_values,
    shown,
    signed_in_client,
    today,
    yesterday,
)
from sqlalchemy import event, func, select

from hospital_app import rules
from hospital_app.extensions import db
from hospital_app.models import Account, AuditEntry, Report

DAY = yesterday()


@pytest.fixture
def north(app):
    """Two hospitals of North with their report of DAY, one of South."""
    a = make_hospital(app, code="N-1", name="North One", region="North")
    b = make_hospital(app, code="N-2", name="North Two", region="North")
    s = make_hospital(app, code="S-1", name="South One", region="South")
    return {"a": a, "b": b, "s": s}


def reviewer(app, email="rita@example.org", name="Rita Reviewer", **regions):
    make_user(app, "reviewer", email=email, name=name, **regions)
    return signed_in_client(app, email)


@pytest.fixture
def rita(app, north):
    return reviewer(app, regions=("North",))


def review_url(region="North", day=DAY):
    return f"/review?date={day.isoformat()}&region={region}"


def sign_off_form(client, region="North", day=DAY, **extra):
    page = client.get(review_url(region, day))
    assert page.status_code == 200, page_text(page)
    return {**hidden_fields(page), **extra}


def reports_of(app, *hospital_ids, day=DAY) -> list[Report]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(Report)
                .where(Report.hospital_id.in_(hospital_ids), Report.report_date == day)
                .order_by(Report.hospital_id)
            )
        )


def audit_actions(app, action) -> list[AuditEntry]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_the_page_shows_each_hospital_of_the_region_with_its_figures(app, rita, north):
    page = rita.get(review_url())
    text = page_text(page)
    assert page.status_code == 200
    assert "North One" in text and "North Two" in text
    assert "South One" not in text
    assert "150 of 200" in text  # occupied beds of total
    assert "0 of 2 reports signed off" in text
    assert "Provisional" in text


def test_signing_off_marks_every_report_of_the_region_and_day_in_the_audit_trail(app, rita, north):
    response = rita.post("/review/sign-off", data=sign_off_form(rita))
    assert response.status_code == 303
    page = rita.get(response.headers["Location"])
    assert "2 reports of North for" in page_text(page)
    assert "2 of 2 reports signed off" in page_text(page)
    signed = reports_of(app, north["a"], north["b"])
    assert all(r.signed_off_at is not None and r.signed_off_by_id for r in signed)
    assert reports_of(app, north["s"])[0].signed_off_at is None  # South is not North
    entries = audit_actions(app, "signed off")
    assert sorted(e.record_id for e in entries) == sorted(r.id for r in signed)


def signed_off(app, rita, north) -> list[Report]:
    assert rita.post("/review/sign-off", data=sign_off_form(rita)).status_code == 303
    return reports_of(app, north["a"], north["b"])


# --- Editors cannot change a signed-off report, by any path ----------------------------------


@pytest.fixture
def editor(app, north):
    make_user(app, "editor", email="ed@example.org", hospitals=(north["a"],))
    return signed_in_client(app, "ed@example.org")


def signed_message(name="North One") -> str:
    return (
        f"The report of {name} for {shown(DAY)} was signed off by Rita Reviewer on {shown(today())}"
    )


def audit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEntry))


def test_an_editor_cannot_change_a_signed_off_report_by_any_path(app, rita, north, editor):
    report = signed_off(app, rita, north)[0]
    before = audit_count(app)
    token = csrf_token(editor, "/reports/import")
    paths = {
        "edit page": editor.get(f"/reports/{report.id}/edit"),
        "edit": editor.post(
            f"/reports/{report.id}/edit",
            data={**report_form(token, admissions=99), "version": str(report.version)},
        ),
        "delete page": editor.get(f"/reports/{report.id}/delete"),
        "delete": editor.post(
            f"/reports/{report.id}/delete",
            data={"csrf_token": token, "version": str(report.version)},
        ),
        "new form for that date": editor.post(
            f"/hospitals/{north['a']}/reports/new", data=report_form(token, admissions=99)
        ),
    }
    for path, response in paths.items():
        assert response.status_code == 403, path
        assert signed_message() in page_text(response), path
        assert "a reviewer can reopen it" in page_text(response), path
    # The grid lists only hospitals still to do; a row sent anyway is refused.
    figures = form_data(report_values(admissions=99))
    row = {f"h{north['a']}-{n}": figures[n] for n in (*rules.DAY_FIGURES, *rules.CAPACITY_FIELDS)}
    grid = editor.post(f"/entry/grid?date={DAY.isoformat()}", data={"csrf_token": token, **row})
    assert grid.status_code in (403, 422)
    # The import names the row and saves nothing.
    imported = import_rows(editor, [("N-1", DAY, {"admissions": 99})])
    assert imported.status_code == 422
    assert signed_message() in page_text(imported)
    stored = fetch(app, Report, report.id)
    assert (stored.admissions, stored.version) == (report.admissions, report.version)
    assert audit_count(app) == before
    # The entry page offers no Edit link for it.
    entry = editor.get(f"/entry?date={DAY.isoformat()}")
    assert "North One" in page_text(entry) and "Signed off" in page_text(entry)
    assert f"/reports/{report.id}/edit" not in entry.get_data(as_text=True)


def import_rows(client, rows):
    columns = ["hospital_code", "report_date", *rules.COUNT_FIELDS, "notes"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for code, day, overrides in rows:
        values = form_data(report_values(report_date=day, **overrides))
        writer.writerow([code, *(values[c] for c in columns[1:])])
    token = csrf_token(client, "/reports/import")
    data = {"file": (io.BytesIO(buffer.getvalue().encode()), "day.csv"), "csrf_token": token}
    return client.post("/reports/import", data=data, content_type="multipart/form-data")


def test_an_editor_changes_the_report_again_once_reopened(app, rita, north, editor):
    report = signed_off(app, rita, north)[0]
    url = f"/review/{report.id}/reopen"
    assert rita.get(url).status_code == 200
    empty = rita.post(url, data={**confirmation_form(rita, url), "reason": " "})
    assert empty.status_code == 422
    assert "Say why the report is reopened" in page_text(empty)
    assert fetch(app, Report, report.id).signed_off_at is not None
    reopened = rita.post(
        url, data={**confirmation_form(rita, url), "reason": "Admissions look low"}
    )
    assert reopened.status_code == 303
    page = page_text(rita.get(reopened.headers["Location"]))
    assert "was reopened" in page
    assert "1 of 2 reports signed off" in page
    assert "Provisional (reopened: Admissions look low)" in page
    stored = fetch(app, Report, report.id)
    assert (stored.signed_off_at, stored.reopen_reason) == (None, "Admissions look low")
    [entry] = audit_actions(app, "reopened")
    assert entry.changes["reopen_reason"] == [None, "Admissions look low"]
    token = csrf_token(editor, "/reports/import")
    response = editor.post(
        f"/reports/{report.id}/edit",
        data={**report_form(token, admissions=99), "version": str(stored.version)},
    )
    assert response.status_code == 303
    assert fetch(app, Report, report.id).admissions == 99


def test_an_administrators_change_makes_a_signed_off_report_provisional_again(
    app, rita, north, client
):
    report = signed_off(app, rita, north)[0]
    token = csrf_token(client, "/reports/import")
    response = client.post(
        f"/reports/{report.id}/edit",
        data={**report_form(token, admissions=31), "version": str(report.version)},
    )
    assert response.status_code == 303
    stored = fetch(app, Report, report.id)
    assert (stored.admissions, stored.signed_off_at, stored.signed_off_by_id) == (31, None, None)
    with app.app_context():
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "update").order_by(AuditEntry.id.desc())
        ).first()
    assert entry.changes["admissions"] == [30, 31]
    assert entry.changes["signed_off_at"][1] is None


# --- Scoping and bad input -------------------------------------------------------------------


def test_a_reviewer_of_one_region_cannot_sign_off_another(app, rita, north):
    page = rita.get(review_url("South"))
    assert page.status_code == 400
    assert "“South” is not one of the regions you review" in page_text(page)
    data = {**sign_off_form(rita), "region": "South", "seen": seen_of(app, north["s"])}
    response = rita.post("/review/sign-off", data=data)
    assert response.status_code in (400, 403)
    assert reports_of(app, north["s"])[0].signed_off_at is None
    south = reports_of(app, north["s"])[0]
    reopen = rita.get(f"/review/{south.id}/reopen")
    assert reopen.status_code == 403
    assert "which you do not review" in page_text(reopen)


def seen_of(app, *hospital_ids) -> str:
    return ",".join(f"{r.id}:{r.version}" for r in reports_of(app, *hospital_ids))


def test_a_reviewer_of_all_regions_and_an_administrator_choose_any(app, north, client):
    everyone = reviewer(app, email="all@example.org", all_regions=True)
    for who in (everyone, client):
        page = who.get(review_url("South"))
        assert page.status_code == 200
        assert "South One" in page_text(page)


@pytest.mark.parametrize(
    "query, message",
    [
        ("date=2026-13-45", "is not a date"),
        (f"date={(today() + timedelta(days=1)).isoformat()}", "cannot be in the future"),
        ("region=Nowhere", "“Nowhere” is not one of the regions you review"),
    ],
)
def test_a_bad_date_or_region_is_a_400_that_says_why(app, rita, query, message):
    response = rita.get(f"/review?{query}")
    assert response.status_code == 400
    assert message in page_text(response)


def test_viewers_and_editors_may_not_review(app, north, login_as, editor):
    for who in (login_as("viewer"), editor):
        assert who.get(review_url()).status_code == 403
        token = csrf_token(who, "/account/password")
        data = {"csrf_token": token, "date": DAY.isoformat(), "region": "North", "seen": ""}
        assert who.post("/review/sign-off", data=data).status_code == 403
    assert all(r.signed_off_at is None for r in reports_of(app, north["a"], north["b"]))


def test_reviewers_type_no_figure(app, rita, north):
    assert rita.get(f"/hospitals/{north['a']}/reports/new").status_code == 403
    assert rita.get("/entry").status_code == 403
    assert rita.get("/reports/import").status_code == 403


# --- Missing reports, changes meanwhile, two reviewers at once -------------------------------


def test_missing_reports_are_named_and_asked_to_be_confirmed(app, rita, north):
    make_hospital(app, code="N-3", name="North Three", region="North", reports=())
    form = sign_off_form(rita)
    page = page_text(rita.get(review_url()))
    assert "Not reported yet: North Three." in page
    response = rita.post("/review/sign-off", data=form)
    assert response.status_code == 422
    assert "1 hospital has not reported" in page_text(response)
    assert all(r.signed_off_at is None for r in reports_of(app, north["a"], north["b"]))
    response = rita.post("/review/sign-off", data={**form, "confirm_missing": "y"})
    assert response.status_code == 303
    assert all(r.signed_off_at is not None for r in reports_of(app, north["a"], north["b"]))


def test_a_report_changed_since_the_page_was_opened_stops_the_sign_off(app, rita, north):
    form = sign_off_form(rita)
    with app.app_context():
        report = db.session.get(Report, reports_of(app, north["b"])[0].id)
        report.admissions = 31
        db.session.commit()
    response = rita.post("/review/sign-off", data=form)
    assert response.status_code == 409
    assert "Nothing was signed off" in page_text(response)
    assert all(r.signed_off_at is None for r in reports_of(app, north["a"], north["b"]))


def test_two_reviewers_signing_off_at_once_end_with_one_sign_off(app, rita, north):
    """Rita's request has read the reports and is about to write them when Sam's whole
    sign-off runs and commits: Rita's UPDATEs find the versions moved on, and she is told."""
    sam = reviewer(app, email="sam@example.org", name="Sam Second", regions=("North",))
    rita_form, sam_form = sign_off_form(rita), sign_off_form(sam)
    with app.app_context():
        engine = db.engine
    sam_response = []

    def sam_first(conn, cursor, statement, *args):
        if statement.startswith("UPDATE hospital_stats") and not sam_response:
            thread = threading.Thread(
                target=lambda: sam_response.append(sam.post("/review/sign-off", data=sam_form))
            )
            sam_response.append(None)  # once
            thread.start()
            thread.join()

    event.listen(engine, "before_cursor_execute", sam_first)
    try:
        rita_response = rita.post("/review/sign-off", data=rita_form)
    finally:
        event.remove(engine, "before_cursor_execute", sam_first)
    assert sam_response[1].status_code == 303
    assert rita_response.status_code == 409
    assert "signed off or changed by someone else" in page_text(rita_response)
    assert "Signed off by Sam Second" in page_text(rita_response)
    signed = reports_of(app, north["a"], north["b"])
    with app.app_context():
        sam_id = db.session.scalar(select(Account.id).where(Account.email == "sam@example.org"))
    assert {r.signed_off_by_id for r in signed} == {sam_id}
    assert len(audit_actions(app, "signed off")) == 2


# --- All or nothing, proved by a fault -------------------------------------------------------


@pytest.fixture
def worker(migrated_url):
    """An app whose errors reach the 500 handler, as in production."""
    with fresh_app(migrated_url, PROPAGATE_EXCEPTIONS=False) as app:
        yield app


@pytest.mark.parametrize("fail_on", ["UPDATE hospital_stats", "INSERT INTO audit_log"])
def test_a_fault_on_the_last_report_leaves_nothing_signed_off(worker, fail_on):
    app = worker
    hospitals = [
        make_hospital(app, code=f"F-{n}", name=f"Fault {n}", region="North") for n in range(3)
    ]
    rita = reviewer(app, regions=("North",))
    form = sign_off_form(rita)
    last_id = max(r.id for r in reports_of(app, *hospitals))
    sent = []

    def fault(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE hospital_stats"):
            sent.append(statement)
            if fail_on.startswith("UPDATE") and last_id in _flat(parameters):
                raise RuntimeError("injected fault on the last report")
        if fail_on.startswith("INSERT") and statement.startswith(fail_on):
            assert sent, "the reports were not written before their audit entries"
            raise RuntimeError("injected fault on the audit trail")

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", fault)
    try:
        response = rita.post("/review/sign-off", data=form)
    finally:
        event.remove(engine, "before_cursor_execute", fault)
    assert response.status_code == 500
    assert sent
    assert all(r.signed_off_at is None for r in reports_of(app, *hospitals))
    assert audit_actions(app, "signed off") == []
    # Then it goes through whole.
    assert rita.post("/review/sign-off", data=form).status_code == 303
    assert all(r.signed_off_at is not None for r in reports_of(app, *hospitals))


@pytest.mark.parametrize("fail_on", ["UPDATE hospital_stats", "INSERT INTO audit_log"])
def test_a_fault_while_reopening_leaves_the_report_signed_off(worker, fail_on):
    app = worker
    hospital = make_hospital(app, code="F-1", name="Fault", region="North")
    rita = reviewer(app, regions=("North",))
    assert rita.post("/review/sign-off", data=sign_off_form(rita)).status_code == 303
    [report] = reports_of(app, hospital)
    url = f"/review/{report.id}/reopen"
    data = {**confirmation_form(rita, url), "reason": "Check it"}
    with count_queries(app, fail_on=fail_on):
        response = rita.post(url, data=data)
    assert response.status_code == 500
    assert reports_of(app, hospital)[0].signed_off_at is not None
    assert audit_actions(app, "reopened") == []


def _flat(parameters) -> list:
    if isinstance(parameters, dict):
        return list(parameters.values())
    if isinstance(parameters, list | tuple):
        return (
            [v for item in parameters for v in _flat(item)]
            if any(isinstance(item, dict | list | tuple) for item in parameters)
            else list(parameters)
        )
    return [parameters]


# --- A fixed number of queries ----------------------------------------------------------------


def test_the_page_reads_the_same_number_of_queries_for_1_or_12_hospitals(app):
    rita = reviewer(app, regions=("East",))
    make_hospital(app, code="E-0", name="East 0", region="East")
    with count_queries(app) as one:
        assert rita.get(review_url("East")).status_code == 200
    for n in range(1, 12):
        make_hospital(app, code=f"E-{n}", name=f"East {n}", region="East")
    with count_queries(app) as twelve:
        assert rita.get(review_url("East")).status_code == 200
    assert len(one) == len(twelve)


# --- The dashboard and the lists say what is signed off ---------------------------------------


def test_the_dashboard_and_the_lists_say_how_many_reports_are_signed_off(app, rita, north):
    url = f"/?date={DAY.isoformat()}"
    assert "0 of 3 reports signed off; the other 3 are provisional" in page_text(rita.get(url))
    signed_off(app, rita, north)
    assert "2 of 3 reports signed off; the other 1 is provisional" in page_text(rita.get(url))
    listing = page_text(rita.get(f"/reports?date_from={DAY.isoformat()}"))
    assert "2 of 3 reports in this list signed off" in listing
    assert listing.count("Signed off") == 2
    north_only = page_text(rita.get(f"/reports?region=North&date_from={DAY.isoformat()}"))
    assert "2 of 2 reports in this list signed off." in north_only
    detail = page_text(rita.get(f"/hospitals/{north['a']}"))
    assert "1 of 1 report signed off." in detail
    south = page_text(rita.get(f"/hospitals/{north['s']}"))
    assert "0 of 1 report signed off; the others are provisional" in south
