"""Follow-up of unusual figures (issue 13, point 3): confirming asks why; /followup lists who
confirmed, when and why; a reviewer marks one checked or sends it back to the hospital, whose
entry page shows it until the report is edited."""

from __future__ import annotations

import re
from datetime import timedelta

from helpers import (
    ADMIN_EMAIL,
    count,
    csrf_token,
    make_hospital,
    make_user,
    page_text,
    report_form,
    signed_in_client,
    yesterday,
)
from sqlalchemy import select

from hospital_app.extensions import db
from hospital_app.models import Account, AuditEntry, FollowUp, Report

# Admissions of 40 days, steady but not constant: 85 is far from them.
STEADY = [10 + (i * 7) % 9 for i in range(40)]


def history(values) -> tuple[dict, ...]:
    """Reports admitting `values`, on consecutive days up to the day before yesterday (no
    report the day before yesterday's: the census check stays out), the capacity changed on
    the newest (so does the question about a capacity unchanged for 30 days)."""
    end = yesterday() - timedelta(days=1)
    reports = [
        {"report_date": end - timedelta(days=len(values) - i), "admissions": v}
        for i, v in enumerate(values)
    ]
    reports[-1]["beds_total"] = 201
    return tuple(reports)


def post_new(client, hospital_id, data):
    return client.post(f"/hospitals/{hospital_id}/reports/new", data=data)


def confirmed(app, client, csrf, **why) -> tuple[int, int]:
    """A hospital with a steady history and a report confirmed with 85 admissions: (hospital
    id, follow-up id)."""
    hospital_id = make_hospital(app, reports=history(STEADY))
    data = report_form(csrf, admissions=85, confirm_outlier="y", **why)
    assert post_new(client, hospital_id, data).status_code == 303
    with app.app_context():
        return hospital_id, db.session.scalar(select(FollowUp.id))


def follow_up(app, id_) -> FollowUp:
    with app.app_context():
        row = db.session.get(FollowUp, id_)
        db.session.expunge(row)
        return row


def test_confirming_asks_why_and_saves_nothing_without_a_reason(app, client, csrf):
    hospital_id = make_hospital(app, reports=history(STEADY))
    response = post_new(client, hospital_id, report_form(csrf, admissions=85, confirm_outlier="y"))
    assert response.status_code == 422
    assert "Say why the figures are correct: choose a reason." in page_text(response)
    response = post_new(
        client,
        hospital_id,
        report_form(csrf, admissions=85, confirm_outlier="y", follow_up_reason="other"),
    )
    assert response.status_code == 422
    assert "a note is needed when the reason is “Other”" in page_text(response)
    assert count(app, Report) == len(STEADY)
    assert count(app, FollowUp) == 0


def test_the_reason_is_stored_with_the_report(app, client, csrf, admin_id):
    _, id_ = confirmed(app, client, csrf, follow_up_reason="other", follow_up_note="Flu wave")
    row = follow_up(app, id_)
    assert (row.reason, row.note, row.fields, row.status) == (
        "other",
        "Flu wave",
        "admissions",
        "open",
    )
    assert row.confirmed_by_id == admin_id


def test_the_list_shows_who_when_why_and_counts_by_reason(app, client, csrf):
    confirmed(app, client, csrf, follow_up_reason="surge")
    text = page_text(client.get("/followup"))
    assert "Northside Regional Hospital" in text
    assert "Surge beds opened" in text and "Ada Admin" in text
    assert "Surge beds opened: 1" in text and "Beds closed: 0" in text
    assert "Admissions (85) is far from" in text
    none = page_text(client.get("/followup?reason=closed"))
    assert "No follow-ups match these filters." in none
    assert "Surge beds opened: 1" in none  # the counts are by reason
    make_hospital(app, code="S-1", region="South", reports=())
    assert "No follow-ups match" in page_text(client.get("/followup?region=South"))
    assert client.get("/followup?status=bogus").status_code == 400


def answer_form(client, follow_up_id) -> dict:
    html = client.get("/followup?status=").get_data(as_text=True)
    form = re.search(
        rf'<form[^>]*action="/followup/{follow_up_id}/check[^"]*">(.*?)</form>', html, re.S
    )
    assert form, "no answer form"
    return dict(re.findall(r'name="(csrf_token|version)"[^>]*value="([^"]*)"', form.group(1)))


def test_a_reviewer_marks_it_checked_with_a_comment(app, client, csrf):
    _, id_ = confirmed(app, client, csrf, follow_up_reason="surge")
    data = {**answer_form(client, id_), "comment": "Rang the ward: right."}
    response = client.post(f"/followup/{id_}/check", data=data)
    assert response.status_code == 303
    assert "were marked checked" in page_text(client.get(response.headers["Location"]))
    row = follow_up(app, id_)
    assert (row.status, row.comment) == ("checked", "Rang the ward: right.")
    assert row.reviewer_id is not None and row.checked_at is not None
    with app.app_context():
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.record_type == "follow-up").order_by(AuditEntry.id)
        ).all()[-1]
    assert entry.changes["status"] == ["open", "checked"]
    # The same answer again, from the page as it was: someone answered meanwhile.
    again = client.post(f"/followup/{id_}/send-back", data={**data, "comment": "Check it"})
    assert again.status_code == 303
    flashed = page_text(client.get(again.headers["Location"]))
    assert "changed this follow-up" in flashed and "so nothing was saved" in flashed
    assert follow_up(app, id_).status == "checked"


def test_sent_back_shows_on_the_entry_page_until_the_report_is_edited(app, client, csrf):
    hospital_id, id_ = confirmed(app, client, csrf, follow_up_reason="surge")
    form = answer_form(client, id_)
    refused = client.post(f"/followup/{id_}/send-back", data={**form, "comment": ""})
    assert refused.status_code == 422
    assert "a comment is needed to send it back" in page_text(refused)
    assert follow_up(app, id_).status == "open"
    data = {**form, "comment": "85 admissions? Please check the ward's book."}
    assert client.post(f"/followup/{id_}/send-back", data=data).status_code == 303
    assert follow_up(app, id_).status == "sent back"

    make_user(app, "editor", email="ed@example.org", hospitals=(hospital_id,))
    editor = signed_in_client(app, "ed@example.org")
    entry = page_text(editor.get("/entry"))
    assert "sent back: 85 admissions? Please check the ward's book." in entry
    # The editor corrects the report: the figures are usual, nothing is left to follow up.
    with app.app_context():
        report = db.session.scalar(select(Report).where(Report.report_date == yesterday()))
    data = report_form(csrf_token(editor, f"/reports/{report.id}/edit"), admissions=14)
    data["version"] = str(report.version)
    assert editor.post(f"/reports/{report.id}/edit", data=data).status_code == 303
    assert "sent back" not in page_text(editor.get("/entry"))
    assert count(app, FollowUp) == 0


def test_editors_and_viewers_may_not_answer(app, client, csrf):
    hospital_id, id_ = confirmed(app, client, csrf, follow_up_reason="surge")
    form = answer_form(client, id_)
    for role in ("editor", "viewer"):
        make_user(
            app,
            role,
            email=f"{role}@example.org",
            hospitals=(hospital_id,) if role == "editor" else (),
        )
        other = signed_in_client(app, f"{role}@example.org")
        assert "Mark checked" not in page_text(other.get("/followup"))
        token = csrf_token(other, "/account/password")
        response = other.post(f"/followup/{id_}/check", data={**form, "csrf_token": token})
        assert response.status_code == 403
        assert "Only reviewers and administrators follow up unusual figures." in page_text(response)
    assert follow_up(app, id_).status == "open"


def test_a_reviewer_of_another_region_may_not_answer(app, client, csrf):
    _, id_ = confirmed(app, client, csrf, follow_up_reason="surge")
    make_user(app, "reviewer", email="rex@example.org")
    from hospital_app.models import AccountRegion

    with app.app_context():
        rex = db.session.scalar(select(Account.id).where(Account.email == "rex@example.org"))
        db.session.add(AccountRegion(user_id=rex, region="South"))
        db.session.commit()
    reviewer = signed_in_client(app, "rex@example.org")
    form = answer_form(client, id_)
    token = csrf_token(reviewer, "/account/password")
    response = reviewer.post(f"/followup/{id_}/check", data={**form, "csrf_token": token})
    assert response.status_code == 403
    assert "which you do not review" in page_text(response)
    with app.app_context():
        db.session.add(AccountRegion(user_id=rex, region="North"))
        db.session.commit()
    assert (
        reviewer.post(f"/followup/{id_}/check", data={**form, "csrf_token": token}).status_code
        == 303
    )
    assert follow_up(app, id_).status == "checked"
    assert ADMIN_EMAIL


def test_the_import_and_the_grid_open_follow_ups_without_a_reason(app, client):
    import csv
    import io

    from hospital_app import rules

    make_hospital(app, reports=history(STEADY))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["hospital_code", "report_date", *rules.COUNT_FIELDS])
    values = {**report_form("x", admissions=85)}
    writer.writerow(["NRH-001", values["report_date"], *(values[f] for f in rules.COUNT_FIELDS)])
    token = csrf_token(client, "/reports/import")
    form = {"file": (io.BytesIO(buffer.getvalue().encode()), "s.csv"), "csrf_token": token}
    response = client.post("/reports/import", data=form, content_type="multipart/form-data")
    assert response.status_code == 303
    with app.app_context():
        row = db.session.scalar(select(FollowUp))
        assert (row.reason, row.fields, row.status) == (None, "admissions", "open")
    text = page_text(client.get("/followup"))
    assert "Not asked: 1" in text and "Not asked" in text
