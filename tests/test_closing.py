"""Closed days (issue 12, item 4): a day more than close_after_days days old is closed for
editors on every path that writes a report (the form, the edit, the delete, the import, the
data-entry grid), with a message naming the rule and who can open it; administrators may still
change it, and the audit trail marks their change. An exception opens exactly its hospital
and days until its end time (item 5).

The days are counted from the app's today (UTC in the tests): with the default of 7, today - 7
is still open and today - 8 is closed. The clock is set to noon (cycle.clock) so that the
days do not move under a test running at midnight.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta

import pytest
from helpers import (
    count,
    count_queries,
    csrf_token,
    fetch,
    form_data,
    make_hospital,
    page_text,
    report_form,
    report_values,
    shown,
    today,
)
from sqlalchemy import select

from hospital_app import cycle, rules
from hospital_app.extensions import db
from hospital_app.models import AuditEntry, ClosingException, Report, ReportingSettings

NOON = datetime.combine(today(), time(12))
OPEN_DAY = today() - timedelta(days=7)  # the last day still open with the default of 7
CLOSED_DAY = today() - timedelta(days=8)  # the first closed one
RULE = "a day closes for editors 7 days after it ends (reporting settings)"


def closed_message(day, hospital="Northside Regional Hospital") -> str:
    return (
        f"Reports for {shown(day)} are closed: {RULE}. An administrator can open the day "
        f"again for {hospital}."
    )


@pytest.fixture(autouse=True)
def noon(monkeypatch):
    monkeypatch.setattr(cycle, "clock", lambda: NOON)


@pytest.fixture
def hospital(app) -> int:
    """Northside, with a report of the closed day and one of the last open day."""
    return make_hospital(app, reports=({"report_date": CLOSED_DAY}, {"report_date": OPEN_DAY}))


@pytest.fixture
def other(app) -> int:
    return make_hospital(app, reports=(), code="SOU-002", name="Southside Clinic")


@pytest.fixture
def editor(login_as, hospital, other):
    """An editor assigned to both hospitals."""
    return login_as("editor", hospitals=(hospital, other))


def report_of(app, hospital_id, day) -> Report | None:
    with app.app_context():
        found = db.session.scalar(
            select(Report).where(Report.hospital_id == hospital_id, Report.report_date == day)
        )
        if found is not None:
            db.session.expunge(found)
        return found


def trail(app) -> list[tuple[str, dict]]:
    """(action, changes) of every report entry of the audit trail, oldest first."""
    with app.app_context():
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.record_type == "report").order_by(AuditEntry.id)
        )
        return [(e.action, e.changes) for e in entries]


def store_settings(app, close_after_days) -> None:
    with app.app_context():
        db.session.add(
            ReportingSettings(
                id=cycle.SETTINGS_ID,
                deadline_time=rules.DEFAULT_DEADLINE_TIME,
                deadline_day_offset=rules.DEFAULT_DEADLINE_DAY_OFFSET,
                close_after_days=close_after_days,
            )
        )
        db.session.commit()


def open_days(app, hospital_id, first, last, ends_at, ended_at=None) -> int:
    """An exception opening `first`..`last` for the hospital's editors until `ends_at`."""
    with app.app_context():
        exception = ClosingException(
            hospital_id=hospital_id,
            date_from=first,
            date_to=last,
            ends_at=ends_at,
            reason="The lab's figures arrived late.",
            ended_at=ended_at,
        )
        db.session.add(exception)
        db.session.commit()
        return exception.id


def add_report(client, hospital_id, day, **values):
    token = csrf_token(client, "/reports/import")
    return client.post(
        f"/hospitals/{hospital_id}/reports/new",
        data=report_form(token, report_date=day, **values),
    )


def edit_report(client, report_id, **values):
    token = csrf_token(client, "/reports/import")
    stored = values.pop("version", "1")
    return client.post(
        f"/reports/{report_id}/edit",
        data={**report_form(token, **values), "version": stored},
    )


def delete_report(client, report_id, version="1"):
    token = csrf_token(client, "/reports/import")
    data = {"csrf_token": token, "version": version}
    return client.post(f"/reports/{report_id}/delete", data=data)


COLUMNS = ["hospital_code", "report_date", *rules.COUNT_FIELDS, "notes"]


def import_rows(client, rows: list[tuple[str, object, dict]]):
    """Upload a CSV file of (code, day, overrides) rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for code, day, overrides in rows:
        values = form_data(report_values(report_date=day, **overrides))
        writer.writerow([code, *(values[c] for c in COLUMNS[1:])])
    token = csrf_token(client, "/reports/import")
    data = {"file": (io.BytesIO(buffer.getvalue().encode()), "day.csv"), "csrf_token": token}
    return client.post("/reports/import", data=data, content_type="multipart/form-data")


def grid_post(client, hospital_id, day, **values):
    url = f"/entry/grid?date={day.isoformat()}"
    token = csrf_token(client, "/reports/import")
    figures = form_data(report_values(**values))
    names = (*rules.DAY_FIGURES, *rules.CAPACITY_FIELDS)
    row = {f"h{hospital_id}-{name}": figures[name] for name in names}
    return client.post(url, data={"csrf_token": token, **row})


# --- Editors: every path refuses a closed day --------------------------------------------------


def test_the_form_refuses_a_new_report_for_a_closed_day(app, editor, other):
    before = trail(app)
    response = add_report(editor, other, CLOSED_DAY)
    assert response.status_code == 403
    text = page_text(response)
    assert "Nothing was saved" in text
    assert closed_message(CLOSED_DAY, "Southside Clinic") in text
    assert report_of(app, other, CLOSED_DAY) is None
    assert trail(app) == before


def test_the_last_open_day_is_still_open_and_the_next_older_closed(app, editor, other):
    assert add_report(editor, other, OPEN_DAY).status_code == 303
    assert report_of(app, other, OPEN_DAY) is not None
    assert add_report(editor, other, OPEN_DAY - timedelta(days=1)).status_code == 403


def test_the_form_opened_for_a_closed_day_says_so_before_anything_is_typed(app, editor, other):
    response = editor.get(f"/hospitals/{other}/reports/new?date={CLOSED_DAY.isoformat()}")
    assert response.status_code == 200
    assert f"{closed_message(CLOSED_DAY, 'Southside Clinic')} Choose another date" in page_text(
        response
    )
    opened = editor.get(f"/hospitals/{other}/reports/new?date={OPEN_DAY.isoformat()}")
    assert "are closed" not in page_text(opened)


def test_a_closed_report_cannot_be_edited(app, editor, hospital):
    report = report_of(app, hospital, CLOSED_DAY)
    before = trail(app)
    page = editor.get(f"/reports/{report.id}/edit")
    assert page.status_code == 403
    assert closed_message(CLOSED_DAY) in page_text(page)
    response = edit_report(editor, report.id, report_date=CLOSED_DAY, admissions=99)
    assert response.status_code == 403
    assert closed_message(CLOSED_DAY) in page_text(response)
    assert fetch(app, Report, report.id).admissions == report.admissions
    assert trail(app) == before


def test_an_open_report_cannot_be_moved_into_a_closed_day(app, editor, hospital):
    report = report_of(app, hospital, OPEN_DAY)
    before = trail(app)
    moved_to = CLOSED_DAY - timedelta(days=1)
    response = edit_report(editor, report.id, report_date=moved_to, admissions=99)
    assert response.status_code == 403
    assert closed_message(moved_to) in page_text(response)
    stored = fetch(app, Report, report.id)
    assert (stored.report_date, stored.admissions) == (OPEN_DAY, report.admissions)
    assert trail(app) == before


def test_a_closed_report_cannot_be_deleted(app, editor, hospital):
    report = report_of(app, hospital, CLOSED_DAY)
    before = trail(app)
    page = editor.get(f"/reports/{report.id}/delete")
    assert page.status_code == 403
    assert closed_message(CLOSED_DAY) in page_text(page)
    response = delete_report(editor, report.id)
    assert response.status_code == 403
    assert closed_message(CLOSED_DAY) in page_text(response)
    assert fetch(app, Report, report.id) is not None
    assert trail(app) == before


def test_the_import_lists_each_closed_row_and_saves_nothing(app, editor, hospital, other):
    before = (count(app, Report), trail(app))
    older = CLOSED_DAY - timedelta(days=3)
    response = import_rows(
        editor,
        [
            ("SOU-002", OPEN_DAY, {}),  # open: would be new, but the file is all or nothing
            ("SOU-002", older, {}),
            ("NRH-001", CLOSED_DAY, {"admissions": 99}),  # a change to a closed report
        ],
    )
    assert response.status_code == 422
    text = page_text(response)
    # Line 1 is the header: each closed row by its line, its column and the rule.
    assert f"3 report_date {closed_message(older, 'Southside Clinic')}" in text
    assert f"4 report_date {closed_message(CLOSED_DAY)}" in text
    assert (count(app, Report), trail(app)) == before


def test_the_import_may_bring_back_a_closed_report_unchanged(app, editor, hospital):
    # An identical row changes nothing: an export imports back, whatever its days.
    response = import_rows(editor, [("NRH-001", CLOSED_DAY, {})])
    assert response.status_code == 303
    assert "0 new, 0 updated, 1 unchanged" in page_text(editor.get("/reports/import"))


def test_the_grid_refuses_a_closed_day(app, editor, other):
    before = trail(app)
    page = editor.get(f"/entry/grid?date={CLOSED_DAY.isoformat()}")
    assert page.status_code == 403
    assert "Reports for " + shown(CLOSED_DAY) + " are closed" in page_text(page)
    response = grid_post(editor, other, CLOSED_DAY)
    assert response.status_code == 403
    assert closed_message(CLOSED_DAY, "Southside Clinic") in page_text(response)
    assert report_of(app, other, CLOSED_DAY) is None
    assert trail(app) == before
    assert grid_post(editor, other, OPEN_DAY).status_code == 303


def test_the_entry_page_marks_a_closed_day(app, editor, hospital, other):
    response = editor.get(f"/entry?date={CLOSED_DAY.isoformat()}")
    assert response.status_code == 200
    text = page_text(response)
    assert f"Reports for {shown(CLOSED_DAY)} are closed: {RULE}." in text
    assert text.count("Closed") == 2
    body = response.get_data(as_text=True)
    assert f"/hospitals/{other}/reports/new" not in body
    assert "/edit" not in body
    assert "are closed" not in page_text(editor.get(f"/entry?date={OPEN_DAY.isoformat()}"))


def test_the_hospital_page_shows_no_edit_link_for_a_closed_report(app, editor, hospital):
    closed, opened = report_of(app, hospital, CLOSED_DAY), report_of(app, hospital, OPEN_DAY)
    body = editor.get(f"/hospitals/{hospital}").get_data(as_text=True)
    assert f"/reports/{closed.id}/edit" not in body
    assert f"/reports/{closed.id}/delete" not in body
    assert f"/reports/{opened.id}/edit" in body
    assert "can no longer be changed by editors" in body
    listed = editor.get("/reports").get_data(as_text=True)
    assert f"/reports/{closed.id}/edit" not in listed
    assert f"/reports/{opened.id}/edit" in listed


def test_the_earlier_refusals_come_first(app, login_as, hospital, other):
    # Not assigned: that is what the editor must fix first, whatever the day.
    stranger = login_as("editor", hospitals=(other,))
    response = add_report(stranger, hospital, CLOSED_DAY)
    assert response.status_code == 403
    assert "is not one of them" in page_text(response)
    assert "are closed" not in page_text(response)


# --- Administrators: allowed, and marked in the audit trail ------------------------------------


def test_an_administrator_changes_a_closed_day_and_the_trail_marks_it(app, client, hospital):
    report = report_of(app, hospital, CLOSED_DAY)
    assert edit_report(client, report.id, report_date=CLOSED_DAY, admissions=99).status_code == 303
    assert fetch(app, Report, report.id).admissions == 99
    action, changes = trail(app)[-1]
    assert action == "update"
    assert changes["closed_day"] == [None, True]
    assert "closed_day_exception" not in changes
    history = page_text(client.get(f"/reports/{report.id}/history"))
    assert "Change to a closed day" in history

    assert delete_report(client, report.id, version="2").status_code == 303
    assert fetch(app, Report, report.id) is None
    action, changes = trail(app)[-1]
    assert (action, changes["closed_day"]) == ("delete", [True, None])

    assert add_report(client, hospital, CLOSED_DAY).status_code == 303
    action, changes = trail(app)[-1]
    assert (action, changes["closed_day"]) == ("create", [None, True])


def test_an_administrator_sees_the_day_is_closed_for_editors(app, client, hospital):
    text = page_text(client.get(f"/entry?date={CLOSED_DAY.isoformat()}"))
    assert f"Reports for {shown(CLOSED_DAY)} are closed for editors" in text
    assert "the audit trail marks such changes" in text


def test_an_administrators_import_and_grid_are_marked(app, client, hospital, other):
    assert import_rows(client, [("NRH-001", CLOSED_DAY, {"admissions": 98})]).status_code == 303
    action, changes = trail(app)[-1]
    assert (action, changes["closed_day"]) == ("update", [None, True])
    assert grid_post(client, other, CLOSED_DAY).status_code == 303
    action, changes = trail(app)[-1]
    assert (action, changes["closed_day"]) == ("create", [None, True])


def test_a_change_to_an_open_day_is_not_marked(app, client, hospital):
    report = report_of(app, hospital, OPEN_DAY)
    assert edit_report(client, report.id, report_date=OPEN_DAY, notes="Checked").status_code == 303
    assert "closed_day" not in trail(app)[-1][1]


# --- Exceptions --------------------------------------------------------------------------------


def test_an_exception_opens_exactly_its_hospital_and_days_until_its_end(
    app, editor, hospital, other, monkeypatch
):
    first, last = CLOSED_DAY - timedelta(days=5), CLOSED_DAY - timedelta(days=3)
    ends_at = NOON + timedelta(hours=2)
    opened = open_days(app, other, first, last, ends_at)

    assert add_report(editor, other, first).status_code == 303
    assert trail(app)[-1][1]["closed_day_exception"] == [None, opened]
    assert add_report(editor, other, last).status_code == 303
    assert add_report(editor, other, first - timedelta(days=1)).status_code == 403
    assert add_report(editor, other, last + timedelta(days=1)).status_code == 403
    # Not another hospital's days.
    response = import_rows(editor, [("NRH-001", first, {})])
    assert response.status_code == 422
    assert closed_message(first) in page_text(response)

    # Until its end: one second before, the editor may still change; at the end, no more.
    report = report_of(app, other, first)
    monkeypatch.setattr(cycle, "clock", lambda: ends_at - timedelta(seconds=1))
    assert edit_report(editor, report.id, report_date=first, admissions=77).status_code == 303
    monkeypatch.setattr(cycle, "clock", lambda: ends_at)
    response = edit_report(editor, report.id, report_date=first, admissions=78, version="2")
    assert response.status_code == 403
    assert closed_message(first, "Southside Clinic") in page_text(response)
    assert fetch(app, Report, report.id).admissions == 77
    assert delete_report(editor, report.id).status_code == 403


def test_an_exception_ended_early_no_longer_opens(app, editor, other):
    open_days(app, other, CLOSED_DAY, CLOSED_DAY, NOON + timedelta(days=2), ended_at=NOON)
    assert add_report(editor, other, CLOSED_DAY).status_code == 403
    assert report_of(app, other, CLOSED_DAY) is None


def test_an_exception_opens_the_import_and_the_grid(app, editor, hospital, other):
    opened = open_days(app, other, CLOSED_DAY, CLOSED_DAY, NOON + timedelta(hours=1))
    assert grid_post(editor, other, CLOSED_DAY).status_code == 303
    assert trail(app)[-1][1]["closed_day_exception"] == [None, opened]
    response = import_rows(editor, [("SOU-002", CLOSED_DAY, {"admissions": 12})])
    assert response.status_code == 303
    assert report_of(app, other, CLOSED_DAY).admissions == 12
    # The entry page offers that hospital's report, and still marks the other closed.
    body = editor.get(f"/entry?date={CLOSED_DAY.isoformat()}").get_data(as_text=True)
    assert f"/reports/{report_of(app, other, CLOSED_DAY).id}/edit" in body
    assert f"/reports/{report_of(app, hospital, CLOSED_DAY).id}/edit" not in body


# --- The setting -------------------------------------------------------------------------------


def test_days_that_never_close(app, editor, other):
    store_settings(app, None)
    long_ago = today() - timedelta(days=400)
    assert add_report(editor, other, long_ago).status_code == 303


def test_days_that_close_as_soon_as_they_end(app, editor, other):
    store_settings(app, 0)
    yesterday = today() - timedelta(days=1)
    response = add_report(editor, other, yesterday)
    assert response.status_code == 403
    assert "a day closes for editors as soon as it ends" in page_text(response)
    assert add_report(editor, other, today()).status_code == 303


def test_one_day_is_said_in_the_singular(app, editor, other):
    store_settings(app, 1)
    response = add_report(editor, other, today() - timedelta(days=2))
    assert "a day closes for editors 1 day after it ends" in page_text(response)
    assert add_report(editor, other, today() - timedelta(days=1)).status_code == 303


# --- Queries -----------------------------------------------------------------------------------


def test_lists_ask_the_exceptions_once_whatever_the_rows(app, login_as):
    """An editor's lists with closed rows: the settings and the exceptions of all their
    hospitals are read once per page, not once per row or per hospital."""
    ids = []

    def statements(path: str) -> int:
        editor = login_as("editor", hospitals=tuple(ids))
        editor.get(path)  # warm: the session's account
        with count_queries(app) as sent:
            assert editor.get(path).status_code == 200
        return len(sent)

    def add_hospital(n: int) -> None:
        ids.append(
            make_hospital(
                app,
                code=f"Q-{n}",
                name=f"Query Hospital {n}",
                reports=({"report_date": CLOSED_DAY}, {"report_date": CLOSED_DAY - timedelta(1)}),
            )
        )
        open_days(app, ids[-1], CLOSED_DAY, CLOSED_DAY, NOON + timedelta(hours=1))

    add_hospital(0)
    one = (
        statements("/reports"),
        statements(f"/hospitals/{ids[0]}"),
        statements(f"/entry?date={CLOSED_DAY.isoformat()}"),
    )
    for n in range(1, 6):
        add_hospital(n)
    many = (
        statements("/reports"),
        statements(f"/hospitals/{ids[0]}"),
        statements(f"/entry?date={CLOSED_DAY.isoformat()}"),
    )
    assert one == many
    # The links follow the exceptions: each hospital's exception day, not the day before.
    body = login_as("editor", hospitals=tuple(ids)).get("/reports").get_data(as_text=True)
    assert body.count("/edit") == 5  # PER_PAGE: the exception's days, newest first
