"""`flask --app wsgi check-integrity`: a database written through the app passes; each broken
invariant, made with raw SQL behind the app's back, is named and exits 1; --expect finds an
acknowledged write that is missing or never held its values."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from helpers import csrf_token, make_hospital, make_report, new_hospital_form, report_form, today
from sqlalchemy import select, text

from hospital_app.extensions import db
from hospital_app.models import Hospital, Report

# Most tests here break the data with SQL of their own, sums included; check-integrity (which
# compares the sums too) is what they test, so the app fixture's own check of the sums is off.
pytestmark = pytest.mark.writes_around_the_app


@pytest.fixture
def written(app, client):
    """Data as the app writes it: a hospital with its first report (the form), a second
    report, and an edit of it; returns (hospital id, second report id)."""
    csrf = csrf_token(client)
    day = today() - timedelta(days=3)
    response = client.post(
        "/hospitals/new", data=new_hospital_form(csrf, code="INT-1", report_date=day)
    )
    assert response.status_code == 303
    with app.app_context():
        hospital_id = db.session.scalar(select(Hospital.id).where(Hospital.code == "INT-1"))
    url = f"/hospitals/{hospital_id}/reports/new"
    later = day + timedelta(days=1)
    assert client.post(url, data=report_form(csrf, report_date=later)).status_code == 303
    with app.app_context():
        report_id = db.session.scalar(
            select(Report.id).where(Report.hospital_id == hospital_id, Report.report_date == later)
        )
    # 150 yesterday + 0 admitted - 29 discharged - 1 died = 120: no census warning to confirm.
    edit = report_form(
        csrf,
        report_date=later,
        beds_occupied=120,
        admissions=0,
        discharges=29,
        notes="checked",
        version=1,
    )
    assert client.post(f"/reports/{report_id}/edit", data=edit).status_code == 303
    return hospital_id, report_id


def run(app, *args):
    result = app.test_cli_runner().invoke(args=["check-integrity", *args])
    return result.exit_code, result.output


def raw(app, *statements, foreign_keys=True):
    """Statements behind the app's back (no ORM, no trail); with foreign_keys=False the
    database does not check them, as after a careless restore."""
    with app.app_context(), db.engine.connect() as conn:
        backend = conn.dialect.name
        if not foreign_keys:
            off = {
                "sqlite": "PRAGMA foreign_keys = OFF",
                "postgresql": "SET session_replication_role = replica",
                "mysql": "SET FOREIGN_KEY_CHECKS = 0",
            }[backend]
            # (SQLite: before any statement, so outside a transaction, where it is heeded.)
            conn.exec_driver_sql(off)
        for statement in statements:
            conn.execute(text(statement))
        conn.commit()
        if not foreign_keys and backend != "sqlite":
            # The connection goes back to the pool: checks on again for whoever uses it next.
            conn.exec_driver_sql(
                "SET session_replication_role = DEFAULT"
                if backend == "postgresql"
                else "SET FOREIGN_KEY_CHECKS = 1"
            )
        if backend == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys = ON")


def test_data_written_by_the_app_passes(app, written, admin_id):
    make_hospital(app, code="INT-2", reports=({}, {"report_date": today() - timedelta(days=5)}))
    code, output = run(app)
    assert code == 0, output
    assert "Checked 2 hospitals, 4 reports, 1 accounts and 8 audit entries." in output
    assert "Integrity: OK" in output


def test_a_deleted_report_is_fine_when_the_trail_says_so(app, client, written, tmp_path):
    _hospital_id, report_id = written
    csrf = csrf_token(client)
    response = client.post(f"/reports/{report_id}/delete", data={"csrf_token": csrf, "version": 2})
    assert response.status_code == 303
    # Its acknowledged values are not lost: someone deleted it afterwards, and the trail says so.
    later = (today() - timedelta(days=2)).isoformat()
    path = acknowledged(
        tmp_path,
        {"kind": "report", "code": "INT-1", "report_date": later, "values": {"notes": "checked"}},
    )
    code, output = run(app, "--expect", path)
    assert code == 0, output
    assert "Acknowledged writes: 1 checked, rows lost: 0." in output


def test_a_hospital_written_without_report_or_trail(app, written):
    raw(
        app,
        "INSERT INTO hospitals (code, name, region, ownership, is_active, version, created_at, "
        "updated_at) VALUES ('RAW-1', 'Raw Hospital', 'North', 'public', TRUE, 1, "
        "'2026-01-01 00:00:00', '2026-01-01 00:00:00')",
    )
    code, output = run(app)
    assert code == 1
    assert "RAW-1 has no report, and none was deleted" in output
    assert "has no creating audit entry" in output
    assert "Integrity: 2 violation(s) (1 first report, 1 audit)" in output


def test_a_hospital_whose_first_report_came_in_another_transaction(app):
    hospital_id = make_hospital(app, code="LATE-1", reports=())
    # A minute before its report: MariaDB's DATETIME keeps whole seconds, and the two
    # transactions here are quicker than that.
    raw(
        app,
        "UPDATE audit_log SET created_at = '2026-01-01 00:00:00' "
        f"WHERE record_type = 'hospital' AND record_id = {hospital_id}",
    )
    make_report(app, hospital_id)
    code, output = run(app)
    assert code == 1
    assert f"hospital {hospital_id} LATE-1 was created without its first report" in output


def test_a_change_outside_the_trail(app, written):
    _hospital_id, report_id = written
    raw(app, f"UPDATE hospital_stats SET beds_occupied = 130 WHERE id = {report_id}")
    code, output = run(app)
    assert code == 1
    assert (
        f"report {report_id} differs from its trail's newest values: "
        "beds_occupied: stored 130, trail 120"
    ) in output


def test_a_version_the_trail_does_not_explain(app, written):
    hospital_id, _report_id = written
    raw(app, f"UPDATE hospitals SET version = version + 1 WHERE id = {hospital_id}")
    code, output = run(app)
    assert code == 1
    assert (
        f"hospital {hospital_id} is at version 2, but its trail lists 0 change(s) since its "
        "creation (version 1)"
    ) in output


def test_a_lost_audit_entry(app, written):
    _hospital_id, report_id = written
    raw(
        app,
        "DELETE FROM audit_log WHERE record_type = 'report' AND action = 'update' "
        f"AND record_id = {report_id}",
    )
    code, output = run(app)
    assert code == 1
    assert f"report {report_id} differs from its trail's newest values" in output
    assert f"report {report_id} is at version 2" in output


def test_a_row_gone_without_a_trace(app, written):
    _hospital_id, report_id = written
    raw(app, f"DELETE FROM hospital_stats WHERE id = {report_id}")
    code, output = run(app)
    assert code == 1
    assert (
        f"[lost] report {report_id} was created according to the trail and never deleted, "
        "but it does not exist"
    ) in output


def test_orphans(app, written, admin_id):
    hospital_id, _report_id = written
    raw(
        app,
        f"INSERT INTO hospital_editors (user_id, hospital_id) VALUES ({admin_id}, {hospital_id})",
        f"DELETE FROM hospitals WHERE id = {hospital_id}",
        f"DELETE FROM users WHERE id = {admin_id}",
        foreign_keys=False,
    )
    code, output = run(app)
    assert code == 1
    assert f"belongs to hospital {hospital_id}, which does not exist" in output
    assert (
        f"editor link account {admin_id} → hospital {hospital_id} names a missing account"
    ) in output
    assert f"names account {admin_id}, which is missing" in output
    # The daily sums still count the two reports of the hospital deleted around the app.
    assert "Integrity: 11 violation(s) (7 orphan, 2 lost, 2 summary)" in output


def acknowledged(tmp_path, *lines) -> str:
    path = tmp_path / "acknowledged.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return str(path)


def test_expect_finds_every_acknowledged_write(app, written, tmp_path):
    later = (today() - timedelta(days=2)).isoformat()
    path = acknowledged(
        tmp_path,
        {"kind": "hospital", "code": "INT-1", "values": {"name": "Northside Regional Hospital"}},
        # Both values the report held are acknowledged: the first entry, then the edit.
        {"kind": "report", "code": "INT-1", "report_date": later, "values": {"beds_occupied": 150}},
        {
            "kind": "report",
            "code": "INT-1",
            "report_date": later,
            "values": {"beds_occupied": 120, "notes": "checked"},
        },
    )
    code, output = run(app, "--expect", path)
    assert code == 0, output
    assert "Acknowledged writes: 3 checked, rows lost: 0." in output


def test_expect_reports_a_missing_or_different_row(app, written, tmp_path):
    later = (today() - timedelta(days=2)).isoformat()
    path = acknowledged(
        tmp_path,
        {"kind": "hospital", "code": "GONE-1", "values": {"name": "Nowhere"}},
        {"kind": "report", "code": "INT-1", "report_date": later, "values": {"beds_occupied": 99}},
    )
    code, output = run(app, "--expect", path)
    assert code == 1
    assert "[lost] hospital GONE-1 was acknowledged but does not exist" in output
    assert (
        f"[lost] report of {later} of INT-1 never held the values acknowledged: "
        '{"beds_occupied": 99}'
    ) in output
    assert "Acknowledged writes: 2 checked, rows lost: 2." in output


def test_daily_sums_that_differ_from_the_reports(app, written):
    _hospital_id, report_id = written
    raw(app, f"UPDATE hospital_stats SET beds_occupied = beds_occupied + 7 WHERE id = {report_id}")
    code, output = run(app)
    assert code == 1
    assert "[summary] region_days of " in output
    assert "but the reports add up to" in output
    assert "Integrity: 2 violation(s) (1 audit, 1 summary)" in output
