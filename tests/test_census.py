"""The census check (issue 13, point 4): occupied beds today should be yesterday's occupied
beds + today's admissions − discharges − deaths, within the larger of 5 beds and 5 % of that.
Beyond it, the report form, the data-entry grid and the import warn as for unusual figures."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from helpers import (
    count,
    csrf_token,
    make_hospital,
    page_text,
    report_form,
    report_values,
    today,
    yesterday,
)
from sqlalchemy import select

from hospital_app import rules
from hospital_app.extensions import db
from hospital_app.models import Report

# --- The rule --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "occupied", "gap"),
    [
        (100, 105, None),  # exactly 5 beds over: at the tolerance, no warning
        (100, 95, None),  # and 5 under
        (100, 106, 6),  # one over
        (100, 94, -6),  # one under
        # 5 % of 80 is 4, so 5 beds is the tolerance
        (80, 85, None),
        (80, 86, 6),
        # 5 % of 120 is 6: more than 5 beds, so 6 is the tolerance
        (120, 126, None),
        (120, 127, 7),
        (120, 113, -7),
        # 5 % of 200 is 10
        (200, 210, None),
        (200, 211, 11),
    ],
)
def test_the_tolerance_is_the_larger_of_5_beds_and_5_percent(previous, occupied, gap):
    # No one moved: yesterday's occupied beds are today's expected ones.
    assert rules.census_gap(previous, 0, 0, 0, occupied) == gap


def test_the_flows_count_and_a_missing_previous_day_is_no_warning():
    # 100 + 30 − 5 − 1 = 124
    assert rules.census_gap(100, 30, 5, 1, 124) is None
    assert rules.census_gap(100, 30, 5, 1, 110) == -14
    assert rules.census_gap(None, 30, 5, 1, 0) is None
    assert rules.census_message(100, 30, 5, 1, 110) == (
        "Occupied beds 110 but yesterday's 100 + 30 admitted − 5 discharged − 1 died = 124."
    )


# --- The report form -------------------------------------------------------------------------

MESSAGE = "Occupied beds 110 but yesterday's 100 + 30 admitted − 5 discharged − 1 died = 124."


def hospital_with(app, day, occupied=100) -> int:
    return make_hospital(app, reports=({"report_date": day, "beds_occupied": occupied},))


def post_new(client, hospital_id, data):
    return client.post(f"/hospitals/{hospital_id}/reports/new", data=data)


def figures(**overrides):
    return {"admissions": 30, "discharges": 5, "deaths": 1, **overrides}


def test_the_form_warns_and_names_the_numbers(app, client, csrf):
    hospital_id = hospital_with(app, yesterday() - timedelta(days=1))
    response = post_new(client, hospital_id, report_form(csrf, beds_occupied=110, **figures()))
    assert response.status_code == 422
    assert MESSAGE in page_text(response)
    assert "These figures are correct" in page_text(response)
    assert count(app, Report) == 1

    # Confirmed, it is saved and marked for follow-up with the message.
    data = report_form(
        csrf, beds_occupied=110, confirm_outlier="y", follow_up_reason="surge", **figures()
    )
    assert post_new(client, hospital_id, data).status_code == 303
    with app.app_context():
        saved = db.session.scalar(select(Report).where(Report.report_date == yesterday()))
        assert (saved.beds_occupied, saved.outlier_confirmed) == (110, True)
        assert saved.outlier_note == MESSAGE


@pytest.mark.parametrize(("occupied", "warned"), [(124 - 6, False), (124 - 7, True)])
def test_the_form_at_and_one_over_the_tolerance(app, client, csrf, occupied, warned):
    # Expected 124, 5 % of it is 6.2: 6 beds off is within, 7 beyond.
    hospital_id = hospital_with(app, yesterday() - timedelta(days=1))
    response = post_new(client, hospital_id, report_form(csrf, beds_occupied=occupied, **figures()))
    assert response.status_code == (422 if warned else 303)
    assert count(app, Report) == (1 if warned else 2)


def test_without_a_report_the_day_before_there_is_nothing_to_add_up(app, client, csrf):
    # The previous report is two days before: no yesterday to start from.
    hospital_id = hospital_with(app, yesterday() - timedelta(days=2))
    response = post_new(client, hospital_id, report_form(csrf, beds_occupied=110, **figures()))
    assert response.status_code == 303
    assert count(app, Report) == 2


def test_an_edit_is_checked_against_the_day_before_too(app, client, csrf):
    hospital_id = hospital_with(app, yesterday() - timedelta(days=1))
    assert (
        post_new(client, hospital_id, report_form(csrf, **figures(), beds_occupied=124)).status_code
        == 303
    )
    with app.app_context():
        report_id = db.session.scalar(select(Report.id).where(Report.report_date == yesterday()))
    response = client.post(
        f"/reports/{report_id}/edit", data=report_form(csrf, beds_occupied=110, **figures())
    )
    assert response.status_code == 422
    assert MESSAGE in page_text(response)


# --- The data-entry grid ---------------------------------------------------------------------


def test_the_grid_warns_for_its_row(app, client):
    hospital_id = hospital_with(app, yesterday())
    token = csrf_token(client, "/entry/grid")
    values = report_values(beds_occupied=110, **figures())
    data = {"csrf_token": token}
    for name in (*rules.DAY_FIGURES, *rules.CAPACITY_FIELDS):
        data[f"h{hospital_id}-{name}"] = str(values[name])
    response = client.post(f"/entry/grid?date={today().isoformat()}", data=data)
    assert response.status_code == 422
    assert MESSAGE in page_text(response)
    assert count(app, Report) == 1
    data[f"h{hospital_id}-confirm_outlier"] = "y"
    data[f"h{hospital_id}-follow_up_reason"] = "correction"
    assert client.post(f"/entry/grid?date={today().isoformat()}", data=data).status_code == 303
    assert count(app, Report, Report.outlier_note == MESSAGE) == 1


# --- The import ------------------------------------------------------------------------------


def csv_file(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["hospital_code", "report_date", *rules.COUNT_FIELDS])
    for row in rows:
        values = report_values(**row)
        writer.writerow(
            ["NRH-001", values["report_date"].isoformat(), *(values[f] for f in rules.COUNT_FIELDS)]
        )
    return buffer.getvalue().encode()


def test_the_import_adds_up_from_the_files_own_earlier_row(app, client):
    make_hospital(app, reports=())
    two_days_ago = today() - timedelta(days=2)
    data = csv_file(
        [
            {"report_date": two_days_ago, "beds_occupied": 100},
            {"report_date": yesterday(), "beds_occupied": 110, **figures()},
        ]
    )
    token = csrf_token(client, "/reports/import")
    form = {"file": (io.BytesIO(data), "stats.csv"), "csrf_token": token, "dry_run": "y"}
    response = client.post("/reports/import", data=form, content_type="multipart/form-data")
    assert response.status_code == 200
    assert "1 row with unusual figures" in page_text(response)
    assert MESSAGE in page_text(response)
    assert count(app, Report) == 0


# --- Capacity unchanged for 30 days: still correct? -----------------------------------------


def constant_capacity(app, first_day, last_day, **capacity) -> int:
    """A hospital reporting every day from `first_day` to `last_day` with the same capacity."""
    days = (last_day - first_day).days + 1
    return make_hospital(
        app,
        reports=tuple(
            {"report_date": first_day + timedelta(days=n), **capacity} for n in range(days)
        ),
    )


@pytest.mark.parametrize(("days", "asked"), [(29, False), (30, True)])
def test_capacity_unchanged_for_30_days_asks_if_still_correct(app, client, csrf, days, asked):
    since = yesterday() - timedelta(days=days)
    hospital_id = constant_capacity(app, since, yesterday() - timedelta(days=1))
    response = post_new(client, hospital_id, report_form(csrf))
    text = page_text(response)
    question = (
        f"Capacity unchanged since {rules.day_text(since)} ({days} days): total beds 200, "
        "total ICU beds 20, total ventilators 15. Still correct?"
    )
    if not asked:
        assert response.status_code == 303
        return
    assert response.status_code == 422
    assert question in text
    assert f"Unusual: unchanged since {rules.day_text(since)}" in text
    # Confirmed once, the next day's report does not ask again.
    response = post_new(
        client, hospital_id, report_form(csrf, confirm_outlier="y", follow_up_reason="surge")
    )
    assert response.status_code == 303
    tomorrow = report_form(csrf, report_date=today())
    assert post_new(client, hospital_id, tomorrow).status_code == 303


def test_a_changed_capacity_starts_the_30_days_again(app, client, csrf):
    changed = yesterday() - timedelta(days=10)
    hospital_id = constant_capacity(app, yesterday() - timedelta(days=60), changed, beds_total=190)
    with app.app_context():
        for n in range(1, 10):
            db.session.add(
                Report(
                    hospital_id=hospital_id,
                    **report_values(report_date=changed + timedelta(days=n)),
                )
            )
        db.session.commit()
    assert post_new(client, hospital_id, report_form(csrf)).status_code == 303
