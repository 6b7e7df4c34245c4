"""The audit trail: every change leaves who, when, what, old and new; in the same transaction
as the change, so a failed change leaves neither."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from helpers import (
    ADMIN_EMAIL,
    count,
    count_queries,
    csrf_token,
    fresh_app,
    hospital_form,
    make_hospital,
    make_report,
    make_user,
    new_hospital_form,
    page_text,
    report_form,
    report_values,
    signed_in_client,
    today,
)
from sqlalchemy import select, update

from hospital_app.extensions import db
from hospital_app.models import AuditEntry, Hospital, Report


def entries(app, *where) -> list[AuditEntry]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEntry).where(*where).order_by(AuditEntry.id)))
        db.session.expunge_all()
        return rows


def only_entry(app, *where) -> AuditEntry:
    found = entries(app, *where)
    assert len(found) == 1, found
    return found[0]


# --- What is written -------------------------------------------------------------------------


def test_creating_a_hospital_records_it_and_its_first_report(app, client, csrf, admin_id):
    before = datetime.now() - timedelta(minutes=1)
    assert client.post("/hospitals/new", data=new_hospital_form(csrf)).status_code == 303
    hospital = only_entry(app, AuditEntry.record_type == "hospital")
    report = only_entry(app, AuditEntry.record_type == "report")
    for entry in (hospital, report):
        assert entry.action == "create"
        assert entry.user_id == admin_id
        assert entry.actor == f"Ada Admin <{ADMIN_EMAIL}>"
        assert entry.created_at > before - timedelta(days=1)  # stored in UTC
    assert hospital.record_label == "NRH-001 Northside Regional Hospital"
    assert hospital.changes["code"] == [None, "NRH-001"]
    assert hospital.changes["is_active"] == [None, True]
    assert report.hospital_id == hospital.record_id
    assert report.changes["beds_occupied"] == [None, 150]
    assert report.changes["report_date"] == [None, report_values()["report_date"].isoformat()]


def test_an_edit_records_only_the_fields_that_changed(app, client, csrf):
    hospital_id = make_hospital(app)
    data = hospital_form(csrf, name="Northside General", city="")
    assert client.post(f"/hospitals/{hospital_id}/edit", data=data).status_code == 303
    entry = only_entry(app, AuditEntry.record_type == "hospital", AuditEntry.action == "update")
    assert entry.record_id == hospital_id
    assert entry.changes == {
        "name": ["Northside Regional Hospital", "Northside General"],
        "city": ["Ashford", None],
    }


def test_saving_without_changes_records_nothing(app, client, csrf):
    hospital_id = make_hospital(app)
    before = len(entries(app))
    assert (
        client.post(f"/hospitals/{hospital_id}/edit", data=hospital_form(csrf)).status_code == 303
    )
    assert len(entries(app)) == before


def test_archive_and_restore_are_named_as_such(app, client, csrf):
    hospital_id = make_hospital(app)
    client.post(f"/hospitals/{hospital_id}/archive", data={"csrf_token": csrf})
    client.post(f"/hospitals/{hospital_id}/restore", data={"csrf_token": csrf})
    actions = [
        (e.action, e.changes)
        for e in entries(app, AuditEntry.record_type == "hospital", AuditEntry.action != "create")
    ]
    assert actions == [
        ("archive", {"is_active": [True, False]}),
        ("restore", {"is_active": [False, True]}),
    ]


def test_report_edit_and_delete_keep_the_old_values(app, client, csrf):
    hospital_id = make_hospital(app, reports=())
    report_id = make_report(app, hospital_id, admissions=30, notes="first")
    data = report_form(csrf, admissions=31, notes="corrected")
    assert client.post(f"/reports/{report_id}/edit", data=data).status_code == 303
    assert client.post(f"/reports/{report_id}/delete", data={"csrf_token": csrf}).status_code == 303

    update_entry = only_entry(app, AuditEntry.action == "update")
    assert update_entry.changes == {"admissions": [30, 31], "notes": ["first", "corrected"]}
    deleted = only_entry(app, AuditEntry.action == "delete")
    assert (deleted.record_type, deleted.record_id, deleted.hospital_id) == (
        "report",
        report_id,
        hospital_id,
    )
    assert deleted.changes["admissions"] == [31, None]
    assert deleted.changes["beds_total"] == [200, None]


def test_signing_in_is_not_recorded_as_a_change_to_the_account(app, client):
    # `client` signed in through the form, which stamped last_login_at.
    assert entries(app, AuditEntry.record_type == "account", AuditEntry.action != "create") == []


def test_changes_made_outside_a_request_name_the_system(app):
    make_hospital(app)
    assert {e.actor for e in entries(app)} == {"system"}
    assert {e.user_id for e in entries(app)} == {None}


# --- Atomicity: the change and its audit row, together or not at all -------------------------


@pytest.fixture
def worker(migrated_url):
    """Errors reach the 500 handler instead of the test, as in production."""
    with fresh_app(migrated_url, PROPAGATE_EXCEPTIONS=False) as app:
        make_user(app, "admin", email=ADMIN_EMAIL)
        yield app


def test_a_failure_after_the_audit_row_was_flushed_leaves_neither(worker, monkeypatch):
    client = signed_in_client(worker, ADMIN_EMAIL)
    csrf = csrf_token(client)
    hospital_id = make_hospital(worker, name="Before")
    before = len(entries(worker))

    from hospital_app.hospitals.forms import HospitalForm

    apply = HospitalForm.apply

    def apply_flush_then_fail(form, hospital):
        apply(form, hospital)
        db.session.flush()  # the UPDATE and its audit row reach the database…
        raise RuntimeError("injected fault after the flush")  # …then the request fails

    monkeypatch.setattr(HospitalForm, "apply", apply_flush_then_fail)
    with count_queries(worker) as sent:
        response = client.post(
            f"/hospitals/{hospital_id}/edit", data=hospital_form(csrf, name="After")
        )
    assert response.status_code == 500
    assert any(s.startswith("INSERT INTO audit_log") for s in sent), "the audit row was not sent"
    assert any(s.startswith("UPDATE hospitals") for s in sent)
    with worker.app_context():
        assert db.session.get(Hospital, hospital_id).name == "Before"
    assert len(entries(worker)) == before


def test_a_failing_audit_insert_takes_the_change_with_it(worker):
    client = signed_in_client(worker, ADMIN_EMAIL)
    csrf = csrf_token(client)
    before = count(worker, AuditEntry)  # the admin account's creation
    with count_queries(worker, fail_on="INSERT INTO audit_log"):
        response = client.post("/hospitals/new", data=new_hospital_form(csrf))
    assert response.status_code == 500
    assert count(worker, Hospital) == 0 and count(worker, Report) == 0
    assert count(worker, AuditEntry) == before


def test_a_refused_change_writes_no_audit_row(app, client, csrf):
    """A form error (here, a duplicate code caught by validation) writes nothing at all."""
    make_hospital(app, code="DUP-1")
    before = len(entries(app))
    response = client.post("/hospitals/new", data=new_hospital_form(csrf, code="DUP-1"))
    assert response.status_code == 422
    assert len(entries(app)) == before


# --- History pages ---------------------------------------------------------------------------


def test_hospital_history_lists_its_changes_and_its_reports_newest_first(app, client, csrf):
    hospital_id = make_hospital(app, reports=())
    other_id = make_hospital(app, code="OTH-1", name="Other", reports=())
    report_id = make_report(app, hospital_id)
    make_report(app, other_id)
    client.post(f"/hospitals/{hospital_id}/edit", data=hospital_form(csrf, region="Northwest"))
    client.post(f"/reports/{report_id}/delete", data={"csrf_token": csrf})

    response = client.get(f"/hospitals/{hospital_id}/history")
    assert response.status_code == 200
    text = page_text(response)
    # Newest first: the deletion, the region change, the report, the hospital's creation.
    order = [
        text.index("Delete"),
        text.index("Region North → changed to Northwest"),
        text.index("Create Report of"),
        text.index("Create Hospital NRH-001"),
    ]
    assert order == sorted(order)
    assert "Other" not in text.split("History of", 1)[1]
    assert "Ada Admin <admin@example.org>" in text


def test_report_history_outlives_the_report(app, client, csrf):
    hospital_id = make_hospital(app, reports=())
    report_id = make_report(app, hospital_id, deaths=2)
    client.post(f"/reports/{report_id}/delete", data={"csrf_token": csrf})
    response = client.get(f"/reports/{report_id}/history")
    assert response.status_code == 200
    text = page_text(response)
    assert "This report was deleted; its history is kept." in text
    assert "Deaths was 2" in text
    assert "Northside Regional Hospital" in text
    assert client.get("/reports/987654/history").status_code == 404


def test_history_links_are_on_the_hospital_and_report_pages(app, client):
    hospital_id = make_hospital(app)
    html = client.get(f"/hospitals/{hospital_id}").get_data(as_text=True)
    assert f'href="/hospitals/{hospital_id}/history"' in html
    with app.app_context():
        report_id = db.session.scalar(select(Report.id))
    assert f'href="/reports/{report_id}/history"' in html
    edit_page = client.get(f"/reports/{report_id}/edit").get_data(as_text=True)
    assert f'href="/reports/{report_id}/history"' in edit_page


def test_history_is_paginated_with_a_fixed_number_of_queries(app, client):
    hospital_id = make_hospital(app, reports=())
    with count_queries(app) as few:
        assert client.get(f"/hospitals/{hospital_id}/history").status_code == 200
    for d in range(1, 13):
        make_report(app, hospital_id, report_date=today() - timedelta(days=d))
    with count_queries(app) as many:
        response = client.get(f"/hospitals/{hospital_id}/history")
    assert len(many) == len(few)
    assert "Showing 1–5 of 13 changes" in page_text(response)
    assert client.get(f"/hospitals/{hospital_id}/history?page=x").status_code == 400


# --- /audit ----------------------------------------------------------------------------------


def test_audit_page_filters_by_person_record_type_and_dates(app, client, csrf, admin_id):
    other = make_user(app, "admin", email="other@example.org", name="Otto Other")
    otto = signed_in_client(app, "other@example.org")
    hospital_id = make_hospital(app, reports=())  # by "system"
    client.post(f"/hospitals/{hospital_id}/edit", data=hospital_form(csrf, name="By Ada"))
    otto_csrf = csrf_token(otto)
    otto.post(f"/hospitals/{hospital_id}/edit", data=hospital_form(otto_csrf, name="By Otto"))
    # One old entry, to filter by date.
    with app.app_context():
        oldest = db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id).limit(1))
        db.session.execute(
            update(AuditEntry)
            .where(AuditEntry.id == oldest)
            .values(created_at=datetime(2020, 1, 15, 12, 0))
        )
        db.session.commit()

    def shown(query: str) -> str:
        response = client.get(f"/audit{query}")
        assert response.status_code == 200, page_text(response)
        return page_text(response).split("Filter", 2)[-1]

    everything = shown("")
    assert "By Ada" in everything and "By Otto" in everything
    by_otto = shown(f"?user={other}")
    assert "By Otto" in by_otto and "changed to By Ada" not in by_otto
    assert "By Ada" in shown(f"?user={admin_id}")
    only_users = shown("?record_type=account")
    assert "Account other@example.org" in only_users and "Hospital NRH-001" not in only_users
    in_2020 = shown("?date_from=2020-01-01&date_to=2020-01-31")
    assert "Showing 1–1 of 1 changes" in in_2020
    assert "By Ada" not in shown("?date_to=2020-12-31")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?user=999999", "is not one of the choices"),
        ("?record_type=patient", "is not one of the choices"),
        ("?date_from=yesterday", "“yesterday” is not a date"),
        ("?date_from=2024-05-02&date_to=2024-05-01", "The end date is before the start date."),
        ("?page=0", "Page numbers start at 1."),
        ("?hospital=999999", "is not one of the choices"),
        ("?hospital=x", "is not one of the choices"),
        ("?action=burn", "is not one of the choices"),
    ],
)
def test_bad_audit_filters_get_a_message_not_a_500(app, client, query, message):
    response = client.get(f"/audit{query}")
    assert response.status_code == 400
    assert message in page_text(response)


def test_audit_page_queries_do_not_grow_with_the_trail(app, client):
    make_hospital(app, code="H-FIRST")
    with count_queries(app) as few:
        assert client.get("/audit").status_code == 200
    for n in range(12):
        make_hospital(app, code=f"H-{n:02d}")
    with count_queries(app) as many:
        assert client.get("/audit").status_code == 200
    assert len(many) == len(few)


def test_audit_names_the_hospital_of_a_report_by_code_and_name(app, client):
    hospital_id = make_hospital(app, name="Northside & Co", reports=())
    make_report(app, hospital_id)
    response = client.get("/audit?record_type=report")
    text = page_text(response)
    assert "of NRH-001 Northside & Co" in text
    assert "Hospital NRH-001 Northside & Co" in text  # the hospital field of the new report
    assert "#" not in text.split("Filter", 2)[-1]
    assert "Northside &amp;amp;" not in response.get_data(as_text=True)


def test_changes_are_listed_in_the_order_of_the_form(app, client, csrf):
    hospital_id = make_hospital(app, reports=())
    report_id = make_report(app, hospital_id, admissions=30, beds_total=200, notes="first")
    data = report_form(csrf, admissions=31, beds_total=210, notes="corrected")
    assert client.post(f"/reports/{report_id}/edit", data=data).status_code == 303
    edit_hospital = hospital_form(csrf, code="NRH-009", city="Elsewhere")
    assert client.post(f"/hospitals/{hospital_id}/edit", data=edit_hospital).status_code == 303
    text = page_text(client.get("/audit?action=update"))
    # The report form: the day's figures (admissions), then the capacity, then the notes.
    report = [text.index("Admissions 30"), text.index("Total beds 200"), text.index("Notes first")]
    assert report == sorted(report)
    # The hospital form: the code before the city.
    assert text.index("Facility code NRH-001") < text.index("City Ashford")


def test_times_say_their_time_zone(app, client):
    make_hospital(app, reports=())
    with app.app_context():
        db.session.execute(update(AuditEntry).values(created_at=datetime(2026, 11, 28, 14, 5)))
        db.session.commit()
    assert "28 Nov 2026, 14:05 UTC" in page_text(client.get("/audit"))


def test_times_are_shown_in_the_configured_zone(migrated_url):
    with fresh_app(migrated_url, TIMEZONE="Europe/Paris") as app:
        from hospital_app.templating import moment

        with app.app_context():
            assert moment(datetime(2026, 11, 28, 14, 5)) == "28 Nov 2026, 15:05 CET"
            assert moment(datetime(2026, 7, 1, 14, 5)) == "1 Jul 2026, 16:05 CEST"


def test_audit_page_filters_by_hospital_and_action_and_pages_keep_them(app, client, csrf):
    mine = make_hospital(app, reports=())
    other = make_hospital(app, code="OTH-1", name="Other", reports=())
    for d in range(1, 8):
        make_report(app, mine, report_date=today() - timedelta(days=d))
    make_report(app, other)
    client.post(f"/hospitals/{other}/archive", data={"csrf_token": csrf})

    text = page_text(client.get(f"/audit?hospital={mine}"))
    assert "Showing 1–5 of 8 changes" in text  # the hospital and its 7 reports
    assert "OTH-1" not in text.split("Filter", 2)[-1]
    html = client.get(f"/audit?hospital={mine}&action=create").get_data(as_text=True)
    assert f"?hospital={mine}&amp;action=create&amp;page=2" in html
    second = page_text(client.get(f"/audit?hospital={mine}&action=create&page=2"))
    assert "Showing 6–8 of 8 changes" in second

    archived = page_text(client.get("/audit?action=archive"))
    assert "Showing 1–1 of 1 changes" in archived
    assert "Hospital OTH-1 Other" in archived
    options = page_text(client.get("/audit"))
    assert "NRH-001 — Northside Regional Hospital" in options and "Deactivate" in options


def test_stored_days_and_times_read_as_people_read_them(app, client):
    """The trail keeps dates and times as year-month-day text (stable whatever the display);
    its pages show them in the one format for people, times in the hospitals' zone."""
    hospital_id = make_hospital(app, reports=())
    with app.app_context():
        db.session.add(
            AuditEntry(
                actor="someone",
                action="edit",
                record_type="report",
                record_id=999,
                record_label="report of 2026-03-05",
                hospital_id=hospital_id,
                changes={
                    "report_date": ["2026-03-04", "2026-03-05"],
                    "notes": ["2026-03-04T09:30:00", None],
                },
            )
        )
        db.session.commit()
    text = page_text(client.get(f"/hospitals/{hospital_id}/history"))
    assert "Report of 5 Mar 2026" in text
    assert "4 Mar 2026" in text and "2026-03-04" not in text
    assert "4 Mar 2026, 09:30 UTC" in text
