"""Several hospitals on one screen (/entry/grid): one row per hospital still to do, every row
the report form itself; one submit saves every filled row, or none."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from helpers import (
    ADMIN_EMAIL,
    count,
    count_queries,
    csrf_token,
    form_data,
    fresh_app,
    make_hospital,
    make_report,
    make_user,
    page_text,
    report_values,
    shown,
    signed_in_client,
    today,
)
from sqlalchemy import create_engine, event, insert, select

from hospital_app.extensions import db
from hospital_app.models import AuditEntry, FollowUp, Report
from hospital_app.rules import CAPACITY_FIELDS, DAY_FIGURES

GRID = "/entry/grid"


def grid_url(day=None) -> str:
    return f"{GRID}?date={(day or today()).isoformat()}"


def row(hospital_id: int, **overrides) -> dict:
    """One filled row as the browser posts it: the day's figures and the capacity."""
    values = form_data(report_values(**overrides))
    return {f"h{hospital_id}-{name}": values[name] for name in (*DAY_FIGURES, *CAPACITY_FIELDS)}


def empty_row(hospital_id: int) -> dict:
    """A row left alone: only its prefilled capacity is sent."""
    return {
        key: value
        for key, value in row(hospital_id).items()
        if key.split("-", 1)[1] in CAPACITY_FIELDS
    } | {f"h{hospital_id}-{name}": "" for name in DAY_FIGURES}


def input_of(response, name: str) -> str:
    """The <input> tag named `name` on the page."""
    match = re.search(
        rf'<input[^>]*\bname="{re.escape(name)}"[^>]*>', response.get_data(as_text=True)
    )
    assert match, f"no input {name}"
    return match.group(0)


def value_of(response, name: str) -> str:
    match = re.search(r'\bvalue="([^"]*)"', input_of(response, name))
    return match.group(1) if match else ""


def reports_of_day(app, day=None) -> int:
    return count(app, Report, Report.report_date == (day or today()))


def report_creations(app) -> int:
    return count(app, AuditEntry, AuditEntry.record_type == "report", AuditEntry.action == "create")


@pytest.fixture
def three(app) -> list[int]:
    """Three hospitals with yesterday's report each, so all three are to do today."""
    return [
        make_hospital(app, code=f"G-{n}", name=name)
        for n, name in enumerate(("Alder Hospital", "Birch Hospital", "Cedar Hospital"), 1)
    ]


# --- The page ---------------------------------------------------------------------------------


def test_shows_only_the_hospitals_to_do_with_their_capacity_filled_in(app, client):
    waiting = make_hospital(
        app, code="W-1", name="Waiting Hospital", reports=({"beds_total": 321},)
    )
    new = make_hospital(app, code="N-1", name="New Hospital", reports=())
    done = make_hospital(app, code="D-1", name="Done Hospital")
    make_report(app, done, report_date=today())

    response = client.get(grid_url())
    assert response.status_code == 200
    text = page_text(response)
    assert "Waiting Hospital" in text and "New Hospital" in text
    assert "Done Hospital" not in text
    assert value_of(response, f"h{waiting}-beds_total") == "321"
    assert value_of(response, f"h{waiting}-beds_occupied") == ""
    assert value_of(response, f"h{new}-beds_total") == ""
    # Headers a screen reader reads the cells by, and a name for every input.
    body = response.get_data(as_text=True)
    assert '<th scope="col">Occupied beds</th>' in body
    assert re.search(r'<th scope="row">.*Waiting Hospital</th>', body)
    label = f'<label class="visually-hidden" for="h{waiting}-beds_occupied">'
    assert f"{label}Occupied beds, Waiting Hospital</label>" in body
    # The day's figures come before the capacity along the row (the order of Tab).
    columns = [body.index(f'name="h{waiting}-{name}"') for name in (*DAY_FIGURES, *CAPACITY_FIELDS)]
    assert columns == sorted(columns)
    # The report's date is the page's, not a cell.
    assert f'name="h{waiting}-report_date"' not in body


def test_an_editor_sees_only_the_hospitals_assigned_to_them(app, login_as, three):
    editor = login_as("editor", hospitals=(three[0],))
    text = page_text(editor.get(GRID))
    assert "Alder Hospital" in text
    assert "Birch Hospital" not in text and "Cedar Hospital" not in text


def test_the_entry_page_links_to_the_grid_only_when_some_are_to_do(app, client, three):
    assert "Enter several hospitals on one screen" in page_text(client.get("/entry"))
    for hospital in three:
        make_report(app, hospital, report_date=today())
    assert "Enter several hospitals on one screen" not in page_text(client.get("/entry"))
    text = page_text(client.get(GRID))
    assert f"No hospital is left to do for {shown(today())}" in text


@pytest.mark.parametrize(
    ("date", "message"),
    [
        ("2026-02-30", "is not a date"),
        ("yesterday", "is not a date"),
        ((today() + timedelta(days=1)).isoformat(), "cannot be in the future"),
        ("1999-12-31", "cannot be before 1 Jan 2000"),
    ],
)
def test_a_bad_day_is_a_400_that_says_why(app, client, three, date, message):
    token = csrf_token(client, GRID)
    for response in (
        client.get(f"{GRID}?date={date}"),
        client.post(f"{GRID}?date={date}", data={"csrf_token": token, **row(three[0])}),
    ):
        assert response.status_code == 400
        assert message in page_text(response)
    assert count(app, Report) == 3


def test_the_page_reads_the_same_number_of_queries_for_1_or_12_hospitals(app, client):
    make_hospital(app, code="Q-0", name="Query Hospital 0")
    client.get(GRID)  # warm: the session's account, the regions

    def queries_of_page() -> int:
        with count_queries(app) as statements:
            assert client.get(GRID).status_code == 200
        return len(statements)

    one = queries_of_page()
    for n in range(1, 12):
        make_hospital(app, code=f"Q-{n}", name=f"Query Hospital {n}")
    assert queries_of_page() == one


# --- Saving -----------------------------------------------------------------------------------


def test_three_filled_rows_are_saved_together(app, client, three):
    token = csrf_token(client, GRID)
    data = {"csrf_token": token}
    for n, hospital in enumerate(three):
        # One discharge fewer than admitted, and the death: the beds add up (census check).
        data |= row(hospital, admissions=10 + n, discharges=9 + n)
    before = report_creations(app)

    response = client.post(grid_url(), data=data)

    assert response.status_code == 303
    assert response.headers["Location"] == f"/entry?date={today().isoformat()}"
    assert f"3 reports saved for {shown(today())}." in page_text(
        client.get(response.headers["Location"])
    )
    assert reports_of_day(app) == 3
    assert report_creations(app) == before + 3
    with app.app_context():
        saved = db.session.scalars(
            select(Report).where(Report.report_date == today()).order_by(Report.hospital_id)
        ).all()
        assert [r.admissions for r in saved] == [10, 11, 12]
        assert [r.hospital_id for r in saved] == sorted(three)
        assert all(r.notes is None and not r.outlier_confirmed for r in saved)


def test_rows_left_empty_are_not_saved(app, client, three):
    token = csrf_token(client, GRID)
    data = {"csrf_token": token, **row(three[1]), **empty_row(three[0]), **empty_row(three[2])}
    response = client.post(grid_url(), data=data)
    assert response.status_code == 303
    assert f"1 report saved for {shown(today())}." in page_text(client.get("/entry"))
    with app.app_context():
        assert db.session.scalars(
            select(Report.hospital_id).where(Report.report_date == today())
        ).all() == [three[1]]


def test_a_grid_with_every_row_empty_saves_nothing_and_says_so(app, client, three):
    token = csrf_token(client, GRID)
    data = {"csrf_token": token, **{k: v for h in three for k, v in empty_row(h).items()}}
    response = client.post(grid_url(), data=data)
    assert response.status_code == 422
    assert "Nothing was saved: type the day's figures of at least one hospital." in page_text(
        response
    )
    assert reports_of_day(app) == 0
    # The rows are still there to be typed in.
    assert value_of(response, f"h{three[0]}-beds_total") == "200"


def test_a_wrong_cell_saves_no_row_and_is_shown_beside_its_row(app, client, three):
    token = csrf_token(client, GRID)
    data = {
        "csrf_token": token,
        **row(three[0], admissions=11, discharges=10),
        **row(three[1], beds_occupied=999),  # more than its 200 beds
        **row(three[2], admissions=13, discharges=12),
    }
    before = report_creations(app)

    response = client.post(grid_url(), data=data)

    assert response.status_code == 422
    assert reports_of_day(app) == 0
    assert report_creations(app) == before
    text = page_text(response)
    message = "Occupied beds (999) cannot exceed total beds (200)."
    assert "Nothing was saved: 1 hospital to correct or confirm" in text
    assert f"Birch Hospital: Occupied beds: {message}" in text  # the summary
    assert f"Occupied beds, Birch Hospital: {message}" in text  # beside the row
    wrong = input_of(response, f"h{three[1]}-beds_occupied")
    assert 'aria-invalid="true"' in wrong
    assert f'aria-describedby="h{three[1]}-beds_occupied-error"' in wrong
    assert "autofocus" in wrong
    assert f'id="h{three[1]}-beds_occupied-error"' in response.get_data(as_text=True)
    assert f'href="#h{three[1]}-beds_occupied"' in response.get_data(as_text=True)
    # Every value is kept, the right rows' too.
    assert value_of(response, f"h{three[1]}-beds_occupied") == "999"
    assert value_of(response, f"h{three[0]}-admissions") == "11"
    assert value_of(response, f"h{three[2]}-admissions") == "13"
    assert "aria-invalid" not in input_of(response, f"h{three[0]}-admissions")

    # Corrected, the same rows are saved.
    data[f"h{three[1]}-beds_occupied"] = "150"
    assert client.post(grid_url(), data=data).status_code == 303
    assert reports_of_day(app) == 3


def test_unusual_figures_ask_for_their_rows_confirmation(app, client, three):
    steady = make_hospital(
        app,
        code="S-1",
        name="Steady Hospital",
        reports=tuple({"report_date": today() - timedelta(days=d)} for d in range(1, 9)),
    )
    token = csrf_token(client, GRID)
    data = {"csrf_token": token, **row(three[0]), **row(steady, beds_occupied=20, admissions=300)}

    response = client.post(grid_url(), data=data)

    assert response.status_code == 422
    assert reports_of_day(app) == 0
    text = page_text(response)
    assert "Steady Hospital: unusual figures to confirm" in text
    assert "Unusual figures:" in text
    box = input_of(response, f"h{steady}-confirm_outlier")
    assert 'type="checkbox"' in box and "checked" not in box
    assert f'name="h{three[0]}-confirm_outlier"' not in response.get_data(as_text=True)

    # Ticked, the row asks why (issue 13): the reason is needed, the note for "Other".
    ticked = {**data, f"h{steady}-confirm_outlier": "y"}
    response = client.post(grid_url(), data=ticked)
    assert response.status_code == 422
    text = page_text(response)
    assert "Steady Hospital: Say why the figures are correct: choose a reason." in text
    select_tag = re.search(rf'<select[^>]*name="h{steady}-follow_up_reason"[^>]*>', response.text)
    assert select_tag and "autofocus" in select_tag.group(0)
    ticked[f"h{steady}-follow_up_reason"] = "other"
    response = client.post(grid_url(), data=ticked)
    assert response.status_code == 422
    assert "a note is needed when the reason is “Other”" in page_text(response)
    assert reports_of_day(app) == 0

    ticked[f"h{steady}-follow_up_note"] = "Ward 4 reopened"
    response = client.post(grid_url(), data=ticked)
    assert response.status_code == 303, page_text(response)
    assert reports_of_day(app) == 2
    with app.app_context():
        confirmed = db.session.scalar(
            select(Report).where(Report.hospital_id == steady, Report.report_date == today())
        )
        assert confirmed.outlier_confirmed and confirmed.outlier_note
        follow_up = db.session.scalar(select(FollowUp).where(FollowUp.report_id == confirmed.id))
        assert (follow_up.reason, follow_up.note) == ("other", "Ward 4 reopened")


def test_a_row_for_a_hospital_not_assigned_saves_nothing(app, login_as, three):
    """Posted by hand: the editor's grid never shows Birch Hospital."""
    editor = login_as("editor", hospitals=(three[0],))
    token = csrf_token(editor, GRID)
    data = {"csrf_token": token, **row(three[0]), **row(three[1])}
    response = editor.post(grid_url(), data=data)
    assert response.status_code == 403
    text = page_text(response)
    assert (
        "You can change reports only for the hospitals assigned to you, and Birch Hospital" in text
    )
    assert "Nothing was changed." in text
    assert reports_of_day(app) == 0
    # An empty row of another's hospital is simply dropped.
    data = {"csrf_token": token, **row(three[0]), **empty_row(three[1])}
    assert editor.post(grid_url(), data=data).status_code == 303
    assert reports_of_day(app) == 1


def test_a_row_of_no_hospital_is_a_400(app, client, three):
    token = csrf_token(client, GRID)
    response = client.post(grid_url(), data={"csrf_token": token, **row(three[0]), **row(9999)})
    assert response.status_code == 400
    assert reports_of_day(app) == 0


def test_the_date_is_the_pages_whatever_a_row_sends(app, client, three):
    token = csrf_token(client, GRID)
    day = today() - timedelta(days=3)
    data = {"csrf_token": token, **row(three[0]), f"h{three[0]}-report_date": today().isoformat()}
    assert client.post(grid_url(day), data=data).status_code == 303
    assert reports_of_day(app, day) == 1 and reports_of_day(app) == 0


def test_a_colleagues_report_entered_since_the_page_opened_is_that_rows_clash(app, client, three):
    token = csrf_token(client, GRID)
    page = client.get(grid_url())
    assert "Alder Hospital" in page_text(page)
    make_report(app, three[0], report_date=today(), admissions=55)  # a colleague's

    data = {"csrf_token": token, **row(three[0], admissions=1), **row(three[1])}
    response = client.post(grid_url(), data=data)

    assert response.status_code == 422
    text = page_text(response)
    assert f"Alder Hospital: This hospital already has a report for {shown(today())}." in text
    assert reports_of_day(app) == 1  # the colleague's alone, untouched
    with app.app_context():
        kept = db.session.scalar(select(Report).where(Report.report_date == today()))
        assert (kept.hospital_id, kept.admissions) == (three[0], 55)


@pytest.mark.writes_around_the_app  # the colleague's report is an INSERT of its own
def test_a_report_committed_between_the_checks_and_the_commit_is_that_rows_clash(
    app, client, three, migrated_url
):
    """The race the checks cannot see: a colleague's report lands after this grid was
    validated. The database's unique constraint refuses the grid's; everything is rolled
    back, and validating again names the row."""
    token = csrf_token(client, GRID)
    other = create_engine(migrated_url)
    with app.app_context():
        session_class = db.session.session_factory.class_

    landed = []

    def colleague_saves_first(session, context, instances):
        if landed or not any(isinstance(obj, Report) for obj in session.new):
            return  # once, when the grid's reports are about to be written
        landed.append(True)
        with other.begin() as conn:
            colleague = {**report_values(report_date=today()), "hospital_id": three[1]}
            conn.execute(insert(Report), [{**colleague, "version": 1}])

    event.listen(session_class, "before_flush", colleague_saves_first)
    try:
        data = {"csrf_token": token, **row(three[0]), **row(three[1]), **row(three[2])}
        response = client.post(grid_url(), data=data)
    finally:
        event.remove(session_class, "before_flush", colleague_saves_first)
        other.dispose()

    assert landed
    assert response.status_code == 422
    assert f"Birch Hospital: This hospital already has a report for {shown(today())}." in page_text(
        response
    )
    with app.app_context():
        assert db.session.scalars(
            select(Report.hospital_id).where(Report.report_date == today())
        ).all() == [three[1]]


# --- All or nothing, proved by a fault --------------------------------------------------------


@pytest.fixture
def worker(migrated_url):
    """An app whose errors reach the 500 handler, as in production."""
    with fresh_app(migrated_url, PROPAGATE_EXCEPTIONS=False) as app:
        make_user(app, "admin", email=ADMIN_EMAIL)
        yield app


def _flat(parameters) -> list:
    if isinstance(parameters, dict):
        return list(parameters.values())
    if isinstance(parameters, list | tuple):
        return (
            [value for item in parameters for value in _flat(item)]
            if any(isinstance(item, dict | list | tuple) for item in parameters)
            else list(parameters)
        )
    return [parameters]


@pytest.mark.parametrize("fail_on", ["the last row's report", "the audit entries"])
def test_a_fault_after_rows_were_written_leaves_no_row_and_no_audit_entry(worker, fail_on):
    """The reports' INSERT of the last row fails (or, after every report reached the
    database, the audit trail's): the request answers 500 and nothing of it stays."""
    app = worker
    hospitals = [make_hospital(app, code=f"F-{n}", name=f"Fault Hospital {n}") for n in range(1, 4)]
    client = signed_in_client(app, ADMIN_EMAIL)
    token = csrf_token(client, GRID)
    before = count(app, AuditEntry)
    last = hospitals[-1]  # the grid's last row, by name
    sent = []

    def fault(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO hospital_stats"):
            sent.append(statement)
            if fail_on == "the last row's report" and last in _flat(parameters):
                raise RuntimeError("injected fault on the last row's report")
        if fail_on == "the audit entries" and statement.startswith("INSERT INTO audit_log"):
            assert sent, "the reports were not written before their audit entries"
            raise RuntimeError("injected fault on the audit trail")

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", fault)
    try:
        data = {"csrf_token": token, **{k: v for h in hospitals for k, v in row(h).items()}}
        response = client.post(grid_url(), data=data)
    finally:
        event.remove(engine, "before_cursor_execute", fault)

    assert response.status_code == 500
    assert "nothing of it was saved" in page_text(response)
    assert sent, "no report reached the database"
    assert reports_of_day(app) == 0
    assert count(app, AuditEntry) == before
    # The worker goes on: the same grid is then saved whole.
    assert client.post(grid_url(), data=data).status_code == 303
    assert reports_of_day(app) == 3
