"""The reporting cycle's clock: when a day's report is due, and on time or late for every
report by whatever path it is first saved, at the deadline's edge, in a time zone with
daylight saving; and the existing reports classed by the migration."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from flask_migrate import downgrade, upgrade
from helpers import (
    ADMIN_EMAIL,
    csrf_token,
    form_data,
    fresh_app,
    make_hospital,
    make_user,
    page_text,
    report_values,
    signed_in_client,
)
from sqlalchemy import select, text

from hospital_app import cycle
from hospital_app.extensions import db
from hospital_app.models import Report, ReportingSettings, utcnow

PARIS = "Europe/Paris"
SECOND = timedelta(seconds=1)

# Day D's report is due by 12:00 on D + 1 in Paris. 29 Mar 2026: clocks go forward at 02:00
# (UTC+1 → UTC+2), so the deadline is 10:00 UTC; 25 Oct 2026: back at 03:00 (UTC+2 → UTC+1),
# so 11:00 UTC. A deadline computed with the offset of the day before would be an hour off.
EDGES = [
    pytest.param(date(2026, 3, 28), datetime(2026, 3, 29, 10, 0), id="spring-forward"),
    pytest.param(date(2026, 10, 24), datetime(2026, 10, 25, 11, 0), id="fall-back"),
    pytest.param(date(2026, 7, 1), datetime(2026, 7, 2, 10, 0), id="summer"),
]


@pytest.fixture
def paris(migrated_url):
    """The app with the hospitals' time zone in Paris, and an administrator signed in (they
    may save reports for closed days, so old days can be tried)."""
    with fresh_app(migrated_url, TIMEZONE=PARIS) as app:
        make_user(app, "admin", email=ADMIN_EMAIL)
        yield app


def at(monkeypatch, moment: datetime) -> None:
    """Set the cycle's clock (naive UTC) to `moment`."""
    monkeypatch.setattr(cycle, "clock", lambda: moment)


def saved_on_time(app, hospital_id: int, day: date) -> bool:
    with app.app_context():
        return db.session.scalar(
            select(Report.on_time).where(
                Report.hospital_id == hospital_id, Report.report_date == day
            )
        )


@pytest.mark.parametrize(("day", "deadline"), EDGES)
def test_the_deadline_in_utc_across_daylight_saving(paris, day, deadline):
    with paris.app_context():
        assert cycle.deadline_utc(day, cycle.defaults()) == deadline


@pytest.mark.parametrize(("day", "deadline"), EDGES)
@pytest.mark.parametrize(("offset", "on_time"), [(-SECOND, True), (SECOND, False)])
def test_a_report_saved_a_second_before_or_after_the_deadline(
    paris, monkeypatch, day, deadline, offset, on_time
):
    hospital_id = make_hospital(paris, reports=())
    client = signed_in_client(paris, ADMIN_EMAIL)
    data = form_data(report_values(report_date=day))
    data["csrf_token"] = csrf_token(client, f"/hospitals/{hospital_id}/reports/new")
    at(monkeypatch, deadline + offset)
    response = client.post(f"/hospitals/{hospital_id}/reports/new", data=data)
    assert response.status_code == 303
    assert saved_on_time(paris, hospital_id, day) is on_time


def test_exactly_at_the_deadline_is_on_time(paris, monkeypatch):
    day, deadline = date(2026, 3, 28), datetime(2026, 3, 29, 10, 0)
    at(monkeypatch, deadline)
    hospital_id = make_hospital(paris, reports=({"report_date": day},))
    assert saved_on_time(paris, hospital_id, day) is True


def test_later_edits_do_not_change_it(paris, monkeypatch):
    day, deadline = date(2026, 7, 1), datetime(2026, 7, 2, 10, 0)
    at(monkeypatch, deadline - SECOND)
    hospital_id = make_hospital(paris, reports=({"report_date": day},))
    at(monkeypatch, deadline + timedelta(days=30))
    with paris.app_context():
        report = db.session.scalar(select(Report).where(Report.hospital_id == hospital_id))
        report.admissions += 1
        db.session.commit()
    assert saved_on_time(paris, hospital_id, day) is True


def test_the_import_counts_by_when_it_ran(paris, monkeypatch, runner_factory, tmp_path):
    day, deadline = date(2026, 10, 24), datetime(2026, 10, 25, 11, 0)
    make_hospital(paris, reports=(), code="IMP-1")
    make_hospital(paris, reports=(), code="IMP-2")
    header = "hospital_code,report_date," + ",".join(
        name for name in report_values() if name not in ("report_date", "notes")
    )

    def line(code):
        values = report_values(report_date=day)
        return ",".join(
            [code, day.isoformat()]
            + [str(v) for k, v in values.items() if k not in ("report_date", "notes")]
        )

    for code, moment in (("IMP-1", deadline - SECOND), ("IMP-2", deadline + SECOND)):
        at(monkeypatch, moment)
        csv_file = tmp_path / f"{code}.csv"
        csv_file.write_text(f"{header}\n{line(code)}\n")
        result = runner_factory(paris).invoke(args=["import-reports", str(csv_file)])
        assert result.exit_code == 0, result.output
    with paris.app_context():
        states = dict(
            db.session.execute(
                text(
                    "SELECT h.code, s.on_time FROM hospital_stats s "
                    "JOIN hospitals h ON h.id = s.hospital_id"
                )
            ).all()
        )
    assert {code: bool(v) for code, v in states.items()} == {"IMP-1": True, "IMP-2": False}


def test_the_settings_in_force_decide(paris, monkeypatch):
    """Due at 18:00 on the same day: a report saved at 17:00 Paris time (15:00 UTC in July)
    is on time, one at 19:00 late."""
    day = date(2026, 7, 1)
    with paris.app_context():
        now = utcnow()
        db.session.add(
            ReportingSettings(
                id=cycle.SETTINGS_ID,
                deadline_time=time(18, 0),
                deadline_day_offset=0,
                close_after_days=None,
                created_at=now,
                updated_at=now,
            )
        )
        db.session.commit()
    at(monkeypatch, datetime(2026, 7, 1, 15, 0))
    early = make_hospital(paris, reports=({"report_date": day},), code="EAR-1")
    at(monkeypatch, datetime(2026, 7, 1, 17, 0))
    late = make_hospital(paris, reports=({"report_date": day},), code="LAT-1")
    assert saved_on_time(paris, early, day) is True
    assert saved_on_time(paris, late, day) is False


def test_the_pages_say_when_a_report_is_due_and_how_it_was_saved(paris, monkeypatch):
    hospital_id = make_hospital(paris, reports=())
    client = signed_in_client(paris, ADMIN_EMAIL)
    with paris.app_context():
        today = cycle.local_today()
    at_noon_today = datetime.combine(today, time(9, 0))  # 10:00 or 11:00 in Paris
    at(monkeypatch, at_noon_today)
    text_ = page_text(client.get(f"/entry?date={today}"))
    assert (
        f"Each hospital's report for {today.day} {today:%b %Y} is due by 12:00 tomorrow." in text_
    )
    yesterday = today - timedelta(days=1)
    form = page_text(client.get(f"/hospitals/{hospital_id}/reports/new?date={yesterday}"))
    assert "is due by 12:00 today" in form

    data = form_data(report_values(report_date=yesterday))
    data["csrf_token"] = csrf_token(client, f"/hospitals/{hospital_id}/reports/new")
    client.post(f"/hospitals/{hospital_id}/reports/new", data=data)
    with paris.app_context():
        report_id = db.session.scalar(select(Report.id))
    edit = page_text(client.get(f"/reports/{report_id}/edit"))
    assert "was first saved on time" in edit
    entry = page_text(client.get(f"/entry?date={yesterday}"))
    assert "Entered by" in entry and "on time" in entry


@pytest.fixture
def runner_factory():
    return lambda app: app.test_cli_runner()


def test_the_migration_classes_existing_reports_by_when_they_were_saved(app):
    """0006 classes the reports that existed before it: due by 12:00 on the next day (the
    test app's time zone is UTC)."""
    day = date(2026, 7, 1)
    hospital_id = make_hospital(app, reports=())
    with app.app_context():
        downgrade(revision="0005")
        insert = text(
            "INSERT INTO hospital_stats (hospital_id, report_date, beds_total, beds_occupied, "
            "icu_beds_total, icu_beds_occupied, ventilators_total, ventilators_in_use, "
            "admissions, discharges, deaths, outlier_confirmed, created_at, updated_at, version) "
            "VALUES (:h, :d, 10, 5, 2, 1, 1, 0, 1, 1, 0, :no, :c, :c, 1)"
        )
        with db.engine.begin() as conn:
            conn.execute(
                insert, {"h": hospital_id, "d": day, "no": False, "c": datetime(2026, 7, 2, 12, 0)}
            )
            conn.execute(
                insert,
                {"h": hospital_id, "d": day - timedelta(days=1), "no": False,
                 "c": datetime(2026, 7, 1, 12, 0, 1)},
            )  # fmt: skip
        upgrade()
        states = dict(
            db.session.execute(
                select(Report.report_date, Report.on_time).where(Report.hospital_id == hospital_id)
            ).all()
        )
        assert states == {day: True, day - timedelta(days=1): False}
        assert db.session.get(ReportingSettings, cycle.SETTINGS_ID).close_after_days == 7
