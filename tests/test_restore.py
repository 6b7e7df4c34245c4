"""Restore and revert from a report's history (issue 13, point 5): a deleted report comes back
with exactly the values it had, an earlier version of a report's figures can be put back,
both version-checked, policy-checked and in the audit trail as what they are."""

from __future__ import annotations

import re
from datetime import timedelta

from helpers import (
    confirmation_form,
    count,
    csrf_token,
    fetch,
    make_hospital,
    make_report,
    make_user,
    page_text,
    report_form,
    signed_in_client,
    yesterday,
)
from sqlalchemy import select

from hospital_app import rules
from hospital_app.extensions import db
from hospital_app.models import AuditEntry, Report

ODD = {
    "beds_total": 211,
    "beds_occupied": 157,
    "icu_beds_total": 23,
    "icu_beds_occupied": 19,
    "ventilators_total": 17,
    "ventilators_in_use": 9,
    "admissions": 41,
    "discharges": 33,
    "deaths": 2,
    "notes": "Ward 3 closed for cleaning; “quotes” and ünïcode kept.",
}
COLUMNS = [c.key for c in Report.__table__.columns if c.key not in ("updated_at", "version")]


def row_of(app, report_id) -> dict:
    with app.app_context():
        report = db.session.get(Report, report_id)
        return {c: getattr(report, c) for c in COLUMNS} if report else None


def delete(client, report_id):
    data = confirmation_form(client, f"/reports/{report_id}/delete")
    return client.post(f"/reports/{report_id}/delete", data=data)


def restore(client, report_id, token=None):
    token = token or csrf_token(client, f"/reports/{report_id}/history")
    return client.post(f"/reports/{report_id}/restore", data={"csrf_token": token})


def test_restore_brings_back_the_exact_values_of_a_deleted_report(app, client, csrf):
    hospital_id = make_hospital(app, reports=())
    # Saved through the form, confirmed as unusual, then edited: a report with a history.
    day = yesterday()
    assert (
        client.post(
            f"/hospitals/{hospital_id}/reports/new", data=report_form(csrf, **ODD)
        ).status_code
        == 303
    )
    report_id = db_id(app, hospital_id, day)
    before = row_of(app, report_id)
    assert delete(client, report_id).status_code == 303
    assert row_of(app, report_id) is None

    history = client.get(f"/reports/{report_id}/history")
    assert "Restore this report" in page_text(history)
    response = restore(client, report_id)
    assert response.status_code == 303
    assert f"The report for {rules.day_text(day)} was restored" in page_text(
        client.get(response.headers["Location"])
    )
    after = row_of(app, report_id)
    assert after == {**before, "created_at": after["created_at"]}
    # In the trail as what it is.
    with app.app_context():
        last = db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.record_type == "report", AuditEntry.record_id == report_id)
            .order_by(AuditEntry.id)
        ).all()[-1]
        assert last.action == "restored"
        assert last.changes["admissions"] == [None, 41]
    assert "Restored" in page_text(client.get(f"/reports/{report_id}/history"))


def db_id(app, hospital_id, day):
    with app.app_context():
        return db.session.scalar(
            select(Report.id).where(Report.hospital_id == hospital_id, Report.report_date == day)
        )


def test_a_date_filled_again_is_not_overwritten(app, client):
    hospital_id = make_hospital(app, reports=())
    report_id = make_report(app, hospital_id, admissions=41)
    # Not the newest row: SQLite gives the highest id again after it is deleted.
    make_report(app, hospital_id, report_date=yesterday() - timedelta(days=3))
    assert delete(client, report_id).status_code == 303
    newer = make_report(app, hospital_id, admissions=12)
    response = restore(client, report_id)
    assert response.status_code == 409
    text = page_text(response)
    assert f"already has a report for {rules.day_text(yesterday())}" in text
    assert "Nothing was changed." in text
    assert f'href="/reports/{newer}/edit"' in response.get_data(as_text=True)
    assert fetch(app, Report, newer).admissions == 12
    assert count(app, Report) == 2


def test_restoring_twice_says_it_is_back_already(app, client):
    hospital_id = make_hospital(app, reports=())
    report_id = make_report(app, hospital_id)
    delete(client, report_id)
    token = csrf_token(client, f"/reports/{report_id}/history")
    assert restore(client, report_id, token).status_code == 303
    response = restore(client, report_id, token)
    assert response.status_code == 409
    assert "was restored already" in page_text(response)
    assert count(app, Report) == 1


def test_a_report_that_was_never_deleted_cannot_be_restored(app, client):
    report_id = make_report(app, make_hospital(app, reports=()))
    token = csrf_token(client, f"/reports/{report_id}/history")
    response = client.post(f"/reports/{report_id}/restore", data={"csrf_token": token})
    assert response.status_code == 409
    assert count(app, Report) == 1
    assert client.post("/reports/999/restore", data={"csrf_token": token}).status_code == 404


# --- Revert ----------------------------------------------------------------------------------


def revert_forms(response) -> dict[str, dict]:
    """{button text: form fields} of the history page's "put back" buttons."""
    html = response.get_data(as_text=True)
    forms = {}
    for form in re.findall(r'<form[^>]*action="(/reports/\d+/revert/\d+)"(.*?)</form>', html, re.S):
        action, body = form
        fields = dict(re.findall(r'name="([^"]+)"[^>]*value="([^"]*)"', body))
        button = re.search(r"<button[^>]*>(.*?)</button>", body, re.S).group(1)
        forms[" ".join(re.sub(r"<[^>]+>", " ", button).split())] = {"action": action, **fields}
    return forms


def test_revert_puts_back_an_earlier_version(app, client, csrf):
    hospital_id = make_hospital(app, reports=())
    assert (
        client.post(
            f"/hospitals/{hospital_id}/reports/new", data=report_form(csrf, **ODD)
        ).status_code
        == 303
    )
    report_id = db_id(app, hospital_id, yesterday())
    first = row_of(app, report_id)
    edit = report_form(csrf, **{**ODD, "admissions": 44, "notes": "typed again"}, version=1)
    assert client.post(f"/reports/{report_id}/edit", data=edit).status_code == 303
    assert fetch(app, Report, report_id).admissions == 44

    forms = revert_forms(client.get(f"/reports/{report_id}/history"))
    with app.app_context():
        created = db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.record_type == "report", AuditEntry.record_id == report_id)
            .order_by(AuditEntry.id)
        ).first()
        from hospital_app.templating import moment

        when = moment(created.created_at)
    label = f"Put back the version of {when}"
    assert label in forms
    form = forms[label]
    action = form.pop("action")

    # Someone edits the report while this page is open: the button's version is stale.
    again = report_form(csrf, **{**ODD, "admissions": 45}, version=2)
    assert client.post(f"/reports/{report_id}/edit", data=again).status_code == 303
    stale = client.post(action, data=form)
    assert stale.status_code == 409
    assert "Nothing was changed." in page_text(stale)
    assert fetch(app, Report, report_id).admissions == 45

    form = revert_forms(client.get(f"/reports/{report_id}/history"))[label]
    response = client.post(form.pop("action"), data=form)
    assert response.status_code == 303
    after = row_of(app, report_id)
    assert after == {**first, "created_at": after["created_at"]}
    assert fetch(app, Report, report_id).version == 4
    with app.app_context():
        last = db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.record_type == "report", AuditEntry.record_id == report_id)
            .order_by(AuditEntry.id)
        ).all()[-1]
    assert last.action == "reverted"
    assert last.changes["admissions"] == [45, 41]
    assert last.changes["reverted_to"] == [None, when]
    assert f"Reverted to the version of {when}" in page_text(
        client.get(f"/reports/{report_id}/history")
    )


def test_revert_to_the_current_values_changes_nothing(app, client):
    hospital_id = make_hospital(app, reports=())
    report_id = make_report(app, hospital_id)
    forms = revert_forms(client.get(f"/reports/{report_id}/history"))
    form = next(iter(forms.values()))
    response = client.post(form.pop("action"), data=form)
    assert response.status_code == 303
    assert "Nothing was changed" in page_text(client.get(response.headers["Location"]))
    assert fetch(app, Report, report_id).version == 1


# --- Who may -----------------------------------------------------------------------------------


def test_editors_and_viewers_may_not_restore(app):
    hospital_id = make_hospital(app, reports=())
    report_id = make_report(app, hospital_id)
    make_user(app, "admin", email="boss@example.org")
    admin = signed_in_client(app, "boss@example.org")
    delete(admin, report_id)
    for role in ("editor", "viewer"):
        make_user(
            app,
            role,
            email=f"{role}@example.org",
            hospitals=(hospital_id,) if role == "editor" else (),
        )
        client = signed_in_client(app, f"{role}@example.org")
        history = client.get(f"/reports/{report_id}/history")
        assert "Restore this report" not in page_text(history)
        token = csrf_token(client, "/account/password")
        response = restore(client, report_id, token)
        assert response.status_code == 403
        assert "Only reviewers and administrators" in page_text(response)
    assert count(app, Report) == 0


def test_a_closed_day_is_refused_to_a_reviewer_and_allowed_to_an_administrator(app, client):
    # Days close 7 days after they end (the default): 30 days ago is closed.
    hospital_id = make_hospital(app, reports=())
    old_day = yesterday() - timedelta(days=30)
    report_id = make_report(app, hospital_id, report_date=old_day)
    delete(client, report_id)
    make_user(app, "reviewer", email="rita@example.org")
    with app.app_context():
        from hospital_app.models import Account

        rita = db.session.scalar(select(Account).where(Account.email == "rita@example.org"))
        rita.all_regions = True
        db.session.commit()
    reviewer = signed_in_client(app, "rita@example.org")
    response = restore(reviewer, report_id, csrf_token(reviewer, "/account/password"))
    assert response.status_code == 403
    assert f"Reports for {rules.day_text(old_day)} are closed" in page_text(response)
    assert count(app, Report) == 0
    assert restore(client, report_id).status_code == 303
    assert count(app, Report) == 1
