"""/settings: the reporting cycle's settings, and the exceptions that open closed days again for
one hospital. Through the real forms with CSRF on; each test checks the page, the rows and the
audit trail."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from helpers import (
    VERSION_RE,
    count,
    count_queries,
    csrf_token,
    fetch,
    make_hospital,
    make_report,
    make_user,
    page_text,
    shown,
    signed_in_client,
    today,
)
from sqlalchemy import select

from hospital_app import cycle
from hospital_app.extensions import db
from hospital_app.models import AuditEntry, ClosingException, Hospital, Report, ReportingSettings


def settings_form(csrf: str, version: str = "0", **overrides) -> dict:
    values = {
        "deadline_time": "12:00",
        "deadline_day_offset": "1",
        "close_after_days": "7",
        "version": version,
        "csrf_token": csrf,
    }
    values.update(overrides)
    return values


def version_on(client, url: str) -> str:
    match = VERSION_RE.search(client.get(url).get_data(as_text=True))
    assert match, f"no version on {url}"
    return match.group(1)


def stored(app) -> ReportingSettings | None:
    return fetch(app, ReportingSettings, cycle.SETTINGS_ID)


def entries(app, record_type: str) -> list[AuditEntry]:
    with app.app_context():
        found = list(
            db.session.scalars(
                select(AuditEntry)
                .where(AuditEntry.record_type == record_type)
                .order_by(AuditEntry.id)
            )
        )
        db.session.expunge_all()
        return found


# --- The settings ----------------------------------------------------------------------------


def test_the_defaults_are_shown_while_nothing_is_stored(app, client):
    response = client.get("/settings")
    assert response.status_code == 200
    text = page_text(response)
    assert "Day D's report is due by 12:00 on the next day (UTC time)" in text
    assert "Reports for days more than 7 days ago are closed for editors" in text
    assert "These are the defaults" in text
    assert "A change applies from the moment you save: reports already saved keep" in text
    html = response.get_data(as_text=True)
    assert 'value="12:00"' in html and 'name="version" type="hidden" value="0"' in html
    assert '<option selected value="1">the next day</option>' in html
    assert stored(app) is None


def test_saving_creates_the_row_then_updates_it_in_the_audit_trail(app, client):
    token = csrf_token(client, "/settings")
    form = settings_form(token, deadline_time="18:30", deadline_day_offset="0")
    response = client.post("/settings", data=form)
    assert response.status_code == 303 and response.headers["Location"] == "/settings"
    row = stored(app)
    assert (row.deadline_time, row.deadline_day_offset, row.close_after_days) == (
        time(18, 30),
        0,
        7,
    )
    text = page_text(client.get("/settings"))
    assert "The reporting settings were saved" in text
    assert "Day D's report is due by 18:30 on the same day (UTC time)" in text
    assert "Last changed by" not in text or "Ada Admin" in text

    version = version_on(client, "/settings")
    response = client.post(
        "/settings",
        data=settings_form(
            token, version, deadline_time="18:30", deadline_day_offset="0", close_after_days=""
        ),
    )
    assert response.status_code == 303
    assert stored(app).close_after_days is None
    assert "Days never close" in page_text(client.get("/settings"))

    created, changed = entries(app, "settings")
    assert created.action == "create" and created.record_label == "Reporting settings"
    assert created.changes["deadline_time"] == [None, "18:30"]
    assert changed.action == "update" and changed.changes == {"close_after_days": [7, None]}
    assert "Ada Admin" in created.actor
    audit = page_text(client.get("/audit?record_type=settings"))
    assert "Reporting settings" in audit and "Days after which a day closes" in audit


def test_saving_the_same_values_changes_nothing(app, client):
    token = csrf_token(client, "/settings")
    client.post("/settings", data=settings_form(token))
    version = version_on(client, "/settings")
    response = client.post("/settings", data=settings_form(token, version), follow_redirects=True)
    assert "Nothing was changed." in page_text(response)
    assert len(entries(app, "settings")) == 1


def test_two_administrators_a_conflict_shows_both_values(app, client):
    make_user(app, "admin", email="bo@example.org", name="Bo Boss")
    other = signed_in_client(app, "bo@example.org")
    token, other_token = csrf_token(client, "/settings"), csrf_token(other, "/settings")
    client.post("/settings", data=settings_form(token))  # the row exists: version 1
    mine, theirs = version_on(client, "/settings"), version_on(other, "/settings")

    assert other.post("/settings", data=settings_form(other_token, theirs, deadline_time="09:00"))
    response = client.post("/settings", data=settings_form(token, mine, deadline_time="15:00"))
    assert response.status_code == 409
    text = page_text(response)
    assert "Bo Boss" in text and "after you opened it, so nothing was saved" in text
    assert "09:00" in text and "15:00" in text
    assert stored(app).deadline_time == time(9, 0)
    # The form now carries the stored version: saving again applies mine, knowingly.
    version = VERSION_RE.search(response.get_data(as_text=True)).group(1)
    client.post("/settings", data=settings_form(token, version, deadline_time="15:00"))
    assert stored(app).deadline_time == time(15, 0)


def test_defaults_opened_before_someone_stored_settings_are_a_conflict(app, client):
    token = csrf_token(client, "/settings")  # the page showed the defaults (version 0)
    with app.app_context():
        db.session.add(
            ReportingSettings(
                id=cycle.SETTINGS_ID,
                deadline_time=time(8, 0),
                deadline_day_offset=0,
                close_after_days=3,
            )
        )
        db.session.commit()
    response = client.post("/settings", data=settings_form(token, "0"))
    assert response.status_code == 409
    assert "Their values are beside yours" in page_text(response)
    assert stored(app).deadline_time == time(8, 0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("deadline_time", "25:00", "“25:00” is not a time of day"),
        ("deadline_time", "12", "“12” is not a time of day"),
        ("deadline_time", "noon", "“noon” is not a time of day"),
        ("deadline_time", "", "Enter the time of day reports are due by"),
        ("deadline_day_offset", "2", "“2” is not one of the choices"),
        ("deadline_day_offset", "", "Choose whether reports are due on their day or the next"),
        ("close_after_days", "-1", "Enter a number of days from 0 to 366"),
        ("close_after_days", "9999", "Enter a number of days from 0 to 366"),
        ("close_after_days", "a week", "“a week” is not a whole number"),
        ("close_after_days", "1.5", "“1.5” is not a whole number"),
    ],
)
def test_bad_settings_are_refused_with_a_message(app, client, field, value, message):
    token = csrf_token(client, "/settings")
    response = client.post("/settings", data=settings_form(token, **{field: value}))
    assert response.status_code == 422
    text = page_text(response)
    assert message in text and "Nothing was saved" in text
    assert stored(app) is None
    assert entries(app, "settings") == []


def test_a_change_of_deadline_leaves_saved_reports_as_they_were(app, client, monkeypatch):
    # Yesterday's report, saved today at 11:00: on time by the default deadline (12:00 today).
    now = datetime.combine(today(), time(11, 0))
    monkeypatch.setattr(cycle, "clock", lambda: now)
    hospital = make_hospital(app, reports=())
    report = make_report(app, hospital, report_date=today() - timedelta(days=1))
    assert fetch(app, Report, report).on_time is True

    token = csrf_token(client, "/settings")
    client.post("/settings", data=settings_form(token, deadline_time="10:00"))
    assert stored(app).deadline_time == time(10, 0)
    assert fetch(app, Report, report).on_time is True  # not rewritten
    # A report saved now, by the new deadline (10:00 today), is late.
    other = make_hospital(app, reports=(), code="OTH-1", name="Other")
    late = make_report(app, other, report_date=today() - timedelta(days=1))
    assert fetch(app, Report, late).on_time is False


def test_only_administrators_see_the_settings_link(app, client, login_as):
    assert 'href="/settings"' in client.get("/hospitals").get_data(as_text=True)
    editor = login_as("editor")
    assert 'href="/settings"' not in editor.get("/hospitals").get_data(as_text=True)
    response = editor.get("/settings")
    assert response.status_code == 403
    assert "Only administrators can change the reporting settings." in page_text(response)


# --- Exceptions ------------------------------------------------------------------------------


def exception_form(csrf: str, hospital_id: int, **overrides) -> dict:
    values = {
        "hospital": str(hospital_id),
        "date_from": (today() - timedelta(days=20)).isoformat(),
        "date_to": (today() - timedelta(days=14)).isoformat(),
        "hours": "48",
        "reason": "The lab's figures were corrected.",
        "csrf_token": csrf,
    }
    values.update(overrides)
    return values


def only_exception(app) -> ClosingException:
    with app.app_context():
        found = db.session.scalars(select(ClosingException)).one()
        db.session.expunge(found)
        return found


def test_an_exception_is_created_audited_and_listed_as_open(app, client, monkeypatch):
    now = datetime(2026, 11, 28, 9, 0)
    monkeypatch.setattr(cycle, "clock", lambda: now)
    hospital = make_hospital(app)
    page = client.get("/settings/exceptions/new")
    assert page.status_code == 200
    assert "NRH-001 — " in page_text(page) and 'value="48"' in page.get_data(as_text=True)

    token = csrf_token(client, "/settings/exceptions/new")
    first, last = today() - timedelta(days=20), today() - timedelta(days=14)
    response = client.post("/settings/exceptions/new", data=exception_form(token, hospital))
    assert response.status_code == 303
    assert response.headers["Location"] == "/settings/exceptions"
    exception = only_exception(app)
    assert (exception.hospital_id, exception.date_from, exception.date_to) == (
        hospital,
        first,
        last,
    )
    assert exception.ends_at == now + timedelta(hours=48) and exception.ended_at is None
    with app.app_context():  # the policy's lookup finds it
        assert cycle.opening(hospital, first).id == exception.id

    text = page_text(client.get("/settings/exceptions"))
    assert "are open to its editors until 30 Nov 2026, 09:00 UTC" in text
    assert "Open NRH-001" in text and shown(first) in text and shown(last) in text
    assert "The lab's figures were corrected." in text and "by Ada Admin" in text

    (created,) = entries(app, "exception")
    assert created.action == "create" and created.hospital_id == hospital
    assert created.record_label.startswith("Exception for NRH-001, ")
    assert created.changes["reason"] == [None, "The lab's figures were corrected."]
    # In the hospital's history, too.
    history = page_text(client.get(f"/hospitals/{hospital}/history"))
    assert "Exception for NRH-001" in history
    assert "1 exception open" in page_text(client.get("/settings"))


def test_an_exception_is_ended_early_and_audited(app, client):
    hospital = make_hospital(app)
    token = csrf_token(client, "/settings/exceptions/new")
    client.post("/settings/exceptions/new", data=exception_form(token, hospital))
    exception = only_exception(app)
    url = f"/settings/exceptions/{exception.id}/end"
    assert f'action="{url}"' in client.get("/settings/exceptions").get_data(as_text=True)

    response = client.post(url, data={"csrf_token": token, "version": str(exception.version)})
    assert response.status_code == 303
    ended = only_exception(app)
    assert ended.ended_at is not None
    text = page_text(client.get("/settings/exceptions"))
    assert "The exception was ended" in text and "Ended early" in text
    assert f'action="{url}"' not in client.get("/settings/exceptions").get_data(as_text=True)
    changed = entries(app, "exception")[-1]
    assert changed.action == "update" and list(changed.changes) == ["ended_at"]
    assert changed.hospital_id == hospital
    with app.app_context():
        assert cycle.opening(hospital, ended.date_from) is None

    # Again (say, from a page opened before): already closed, nothing changes.
    response = client.post(url, data={"csrf_token": token}, follow_redirects=True)
    assert "This exception is already closed" in page_text(response)
    assert only_exception(app).ended_at == ended.ended_at
    assert len(entries(app, "exception")) == 2


def test_ending_an_exception_someone_changed_meanwhile_is_a_conflict(app, client):
    hospital = make_hospital(app)
    token = csrf_token(client, "/settings/exceptions/new")
    client.post("/settings/exceptions/new", data=exception_form(token, hospital))
    exception = only_exception(app)
    with app.app_context():
        db.session.get(ClosingException, exception.id).reason = "Changed meanwhile."
        db.session.commit()
    url = f"/settings/exceptions/{exception.id}/end"
    response = client.post(url, data={"csrf_token": token, "version": str(exception.version)})
    assert response.status_code == 303
    assert "nothing was saved" in page_text(client.get("/settings/exceptions"))
    assert only_exception(app).ended_at is None


def test_an_expired_exception_is_listed_as_expired(app, client, monkeypatch):
    hospital = make_hospital(app)
    token = csrf_token(client, "/settings/exceptions/new")
    client.post("/settings/exceptions/new", data=exception_form(token, hospital, hours="1"))
    exception = only_exception(app)
    later = exception.ends_at + timedelta(seconds=1)
    monkeypatch.setattr(cycle, "clock", lambda: later)
    response = client.get("/settings/exceptions")
    text = page_text(response)
    assert "Expired" in text and "Open NRH-001" not in text
    assert "/end" not in response.get_data(as_text=True)
    with app.app_context():
        assert cycle.opening(hospital, exception.date_from) is None
    url = f"/settings/exceptions/{exception.id}/end"
    response = client.post(url, data={"csrf_token": token}, follow_redirects=True)
    assert "This exception is already closed" in page_text(response)
    assert only_exception(app).ended_at is None


def test_open_exceptions_come_first(app, client, monkeypatch):
    a = make_hospital(app, code="AAA-1", name="Alpha")
    b = make_hospital(app, code="BBB-1", name="Bravo")
    token = csrf_token(client, "/settings/exceptions/new")
    client.post("/settings/exceptions/new", data=exception_form(token, a, hours="1"))
    later = cycle.clock() + timedelta(hours=2)
    monkeypatch.setattr(cycle, "clock", lambda: later)
    client.post("/settings/exceptions/new", data=exception_form(token, b, hours="5"))
    text = page_text(client.get("/settings/exceptions"))
    assert text.index("Open BBB-1") < text.index("Expired AAA-1")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"hospital": ""}, "Choose the hospital whose editors may change these days."),
        ({"hospital": "999999"}, "“999999” is not one of the choices"),
        ({"date_from": ""}, "Enter the first day to open"),
        ({"date_from": "yesterday"}, "“yesterday” is not a date"),
        ({"date_to": "2099-01-01"}, "The report date cannot be in the future"),
        ({"date_from": "1999-12-31"}, "The date cannot be before 1 Jan 2000"),
        ({"date_from": "2020-01-08", "date_to": "2020-01-01"}, "The last day is before the first"),
        ({"hours": "0"}, "Enter a number of hours from 1 to 720"),
        ({"hours": "721"}, "Enter a number of hours from 1 to 720"),
        ({"hours": "two days"}, "“two days” is not a whole number"),
        ({"hours": ""}, "Enter for how many hours the days stay open."),
        ({"reason": "   "}, "Say why these days are opened again"),
        ({"reason": "x" * 501}, "Keep the reason to 500 characters."),
    ],
)
def test_bad_exceptions_are_refused_with_a_message(app, client, overrides, message):
    hospital = make_hospital(app)
    token = csrf_token(client, "/settings/exceptions/new")
    response = client.post(
        "/settings/exceptions/new", data=exception_form(token, hospital, **overrides)
    )
    assert response.status_code == 422
    text = page_text(response)
    assert message in text and "Nothing was saved" in text
    assert count(app, ClosingException) == 0


def test_an_archived_hospital_is_not_offered(app, client):
    archived = make_hospital(app, code="ARC-1", name="Archived")
    with app.app_context():
        db.session.get(Hospital, archived).is_active = False
        db.session.commit()
    assert "ARC-1" not in page_text(client.get("/settings/exceptions/new"))
    token = csrf_token(client, "/settings/exceptions/new")
    response = client.post("/settings/exceptions/new", data=exception_form(token, archived))
    assert response.status_code == 422
    assert count(app, ClosingException) == 0


def test_a_missing_exception_is_a_404(client):
    token = csrf_token(client, "/settings")
    assert (
        client.post("/settings/exceptions/987/end", data={"csrf_token": token}).status_code == 404
    )


def test_the_lists_queries_do_not_grow_with_the_exceptions(app, client):
    def add(n: int) -> None:
        with app.app_context():
            for i in range(n):
                h = Hospital(code=f"Q-{i}-{n}", name=f"Q {i}", region="North", ownership="public")
                db.session.add(
                    ClosingException(
                        hospital=h,
                        date_from=today() - timedelta(days=30),
                        date_to=today() - timedelta(days=20),
                        ends_at=cycle.clock() + timedelta(hours=i - n // 2),
                        reason="Late corrections",
                    )
                )
            db.session.commit()

    def queries(url: str) -> int:
        with count_queries(app) as sent:
            assert client.get(url).status_code == 200
        return len(sent)

    add(1)
    few = {url: queries(url) for url in ("/settings/exceptions", "/settings")}
    add(20)
    assert {url: queries(url) for url in few} == few
    assert client.get("/settings/exceptions?page=x").status_code == 400
