"""One request, one transaction: proved by injecting faults, not by reading the code."""

from __future__ import annotations

import pytest
from helpers import (
    ADMIN_EMAIL,
    count,
    count_queries,
    fresh_app,
    make_app,
    make_hospital,
    make_user,
    new_hospital_form,
    page_text,
    signed_in_client,
)
from sqlalchemy import create_engine, text

from hospital_app.extensions import db
from hospital_app.models import Hospital, Report
from hospital_app.report_entry import ReportForm


@pytest.fixture
def worker(migrated_url):
    """An app like one gunicorn worker with a single pooled connection, so every request
    reuses the connection the previous one left behind; errors reach the 500 handler."""
    with fresh_app(
        migrated_url,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_pre_ping": True},
        PROPAGATE_EXCEPTIONS=False,
    ) as app:
        yield app


@pytest.fixture
def worker_client(worker):
    make_user(worker, "admin", email=ADMIN_EMAIL)
    return signed_in_client(worker, ADMIN_EMAIL)


@pytest.fixture
def worker_csrf(worker_client):
    from helpers import csrf_token

    return csrf_token(worker_client)


def engine_of(app):
    with app.app_context():
        return db.engine


def checked_out(app) -> int:
    return engine_of(app).pool.checkedout()


def assert_worker_still_serves(app, client, csrf):
    """The requests after a failure succeed, on the same pooled connection."""
    assert client.get("/hospitals").status_code == 200
    response = client.post("/hospitals/new", data=new_hospital_form(csrf, code="AFTER-1"))
    assert response.status_code == 303, page_text(response)
    assert count(app, Hospital, Hospital.code == "AFTER-1") == 1
    assert count(app, Report) == 1
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok"}
    assert checked_out(app) == 0


def test_failure_writing_the_first_report_leaves_no_hospital(worker, worker_client, worker_csrf):
    """The hospital row is sent to the database, then the report's INSERT fails: the
    request answers 500 and the hospital is gone with it."""
    with count_queries(worker, fail_on="INSERT INTO hospital_stats") as statements:
        response = worker_client.post("/hospitals/new", data=new_hospital_form(worker_csrf))

    assert response.status_code == 500
    assert "nothing of it was saved" in page_text(response)
    assert any(s.startswith("INSERT INTO hospitals") for s in statements), "hospital not flushed"
    assert count(worker, Hospital) == 0 and count(worker, Report) == 0
    assert checked_out(worker) == 0  # the connection went back to the pool
    assert_worker_still_serves(worker, worker_client, worker_csrf)


def test_a_real_constraint_failure_after_the_hospital_was_written(
    worker, worker_client, worker_csrf, monkeypatch
):
    """The database itself refuses the report (a CHECK constraint), after the hospital row
    was inserted in the same transaction. On PostgreSQL this aborts the transaction: the
    connection must come back clean for the next request."""
    original = ReportForm.apply_report

    def corrupt_report(self, report):
        original(self, report)
        report.beds_occupied = report.beds_total + 1  # past the form, caught by the database

    monkeypatch.setattr(ReportForm, "apply_report", corrupt_report)
    response = worker_client.post("/hospitals/new", data=new_hospital_form(worker_csrf))
    assert response.status_code == 500
    assert count(worker, Hospital) == 0 and count(worker, Report) == 0
    monkeypatch.undo()
    assert_worker_still_serves(worker, worker_client, worker_csrf)


def test_an_aborted_transaction_does_not_poison_the_next_request(
    worker, worker_client, worker_csrf, monkeypatch
):
    """A view hits a database error half-way and the exception escapes: the next requests on
    the same connection still work (on PostgreSQL: no 'current transaction is aborted')."""
    from hospital_app.hospitals import queries

    def broken_regions():
        db.session.execute(text("SELECT no_such_column FROM hospitals"))

    monkeypatch.setattr(queries, "regions_in_use", broken_regions)
    assert worker_client.get("/hospitals").status_code == 500
    assert worker_client.get("/hospitals").status_code == 500
    monkeypatch.undo()
    assert_worker_still_serves(worker, worker_client, worker_csrf)


def test_an_error_after_a_flush_in_an_edit_rolls_the_change_back(
    worker, worker_client, worker_csrf, monkeypatch
):
    hospital_id = make_hospital(worker, name="Before")
    from hospital_app.hospitals.forms import HospitalForm

    apply = HospitalForm.apply

    def apply_flush_then_fail(form, hospital):
        apply(form, hospital)
        db.session.flush()  # the UPDATE reaches the database…
        raise RuntimeError("injected fault after the flush")  # …and the request fails

    monkeypatch.setattr(HospitalForm, "apply", apply_flush_then_fail)
    data = new_hospital_form(worker_csrf, name="After")
    response = worker_client.post(f"/hospitals/{hospital_id}/edit", data=data)
    assert response.status_code == 500
    with worker.app_context():
        assert db.session.get(Hospital, hospital_id).name == "Before"
    monkeypatch.undo()
    assert checked_out(worker) == 0


def test_every_request_gives_its_connection_back(worker, worker_client, worker_csrf):
    hospital_id = make_hospital(worker)
    for url in (
        "/hospitals",
        f"/hospitals/{hospital_id}",
        "/hospitals/new",
        "/nowhere",
        "/healthz",
    ):
        worker_client.get(url)
        assert checked_out(worker) == 0, url
    worker_client.post("/hospitals/new", data=new_hospital_form(worker_csrf, code=""))
    assert checked_out(worker) == 0


def test_healthz_answers_200_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_answers_503_when_the_database_does_not(tmp_path):
    app = make_app(f"sqlite:///{tmp_path}/missing-dir/nothing.db", PROPAGATE_EXCEPTIONS=False)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"


def test_healthz_503_on_an_unreachable_server():
    app = make_app(
        "postgresql+psycopg://postgres@127.0.0.1:1/nothing_test",
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}},
    )
    assert app.test_client().get("/healthz").status_code == 503


def _server_connection_id(app) -> tuple[str, int]:
    with app.app_context():
        name = db.engine.dialect.name
        query = "SELECT pg_backend_pid()" if name == "postgresql" else "SELECT CONNECTION_ID()"
        return name, db.session.execute(text(query)).scalar_one()


def test_a_connection_the_server_dropped_costs_no_failed_request(backend, worker, worker_client):
    # `backend` first: its `app` empties the tables, which must happen before the sign-in.
    """What a database restart does to the pool: the server ends our pooled connection.
    pool_pre_ping notices and reconnects; the person sees no error."""
    if backend == "sqlite":
        pytest.skip("SQLite is a file: there is no server connection to drop")
    name, connection_id = _server_connection_id(worker)
    killer = create_engine(engine_of(worker).url, isolation_level="AUTOCOMMIT")
    with killer.connect() as conn:
        if name == "postgresql":
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": connection_id})
        else:
            conn.execute(text(f"KILL {int(connection_id)}"))
    killer.dispose()
    assert worker_client.get("/hospitals").status_code == 200
    assert _server_connection_id(worker)[1] != connection_id


def test_a_change_committed_by_someone_else_meanwhile_is_not_overwritten(
    worker, worker_client, worker_csrf, monkeypatch
):
    """Between this request loading the hospital and saving it, another worker saves a
    change: the version check in the UPDATE finds it, nothing is written, and the person is
    told (409) instead of silently erasing the colleague's work."""
    hospital_id = make_hospital(worker, name="Original")
    from hospital_app.hospitals.forms import HospitalForm

    original = HospitalForm.validate_code
    other_worker = create_engine(engine_of(worker).url)

    def colleague_saves_meanwhile(self, field):
        with other_worker.begin() as conn:
            conn.execute(
                text(
                    "UPDATE hospitals SET name = 'Colleague', version = version + 1 WHERE id = :id"
                ),
                {"id": hospital_id},
            )
        return original(self, field)

    monkeypatch.setattr(HospitalForm, "validate_code", colleague_saves_meanwhile)
    data = new_hospital_form(worker_csrf, name="Mine")
    response = worker_client.post(f"/hospitals/{hospital_id}/edit", data=data)
    other_worker.dispose()
    assert response.status_code == 409
    text_ = page_text(response)
    # A raw UPDATE writes no audit entry, so nobody can be named.
    assert "Someone else changed this hospital, after you opened it, so nothing was saved" in text_
    assert "Name Colleague Mine" in text_  # theirs beside yours
    assert 'value="Mine"' in response.get_data(as_text=True)  # their input is kept
    with worker.app_context():
        saved = db.session.get(Hospital, hospital_id)
        assert (saved.name, saved.version) == ("Colleague", 2)
    monkeypatch.undo()
    assert checked_out(worker) == 0
