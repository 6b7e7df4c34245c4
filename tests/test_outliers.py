"""Unusual figures (issue 5): far from the hospital's history, or an occupancy jump. The form
asks to confirm them; confirmed reports are marked; the batch function gives the importer the
same warnings in a fixed number of queries.

Expected messages are computed here from the inserted rows with Python's statistics module,
independently of the SQL aggregates the app uses."""

from __future__ import annotations

import math
import re
import statistics
from datetime import date, timedelta

import pytest
from helpers import (
    count,
    count_queries,
    fetch,
    make_hospital,
    make_report,
    new_hospital_form,
    page_text,
    report_form,
    shown,
    today,
    yesterday,
)
from sqlalchemy import select

from hospital_app import rules
from hospital_app.extensions import db
from hospital_app.models import AuditEntry, Report
from hospital_app.outliers import (
    ReportRow,
    batch_warnings,
    outlier_note,
    report_warnings,
)

# A steady but not constant history of admissions, oldest first.
STEADY = [10 + (i * 7) % 9 for i in range(40)]


def days_before(day: date, n: int) -> date:
    return day - timedelta(days=n)


def history(values, field="admissions", end: date | None = None, **fixed) -> tuple[dict, ...]:
    """Reports with `field` taking `values`, oldest first, on consecutive days ending the day
    before `end`. By default `end` is the day before yesterday (report_form posts yesterday):
    with no report the day before, the census check stays out of these tests."""
    end = end or days_before(yesterday(), 1)
    n = len(values)
    reports = [
        {"report_date": days_before(end, n - i), field: v, **fixed} for i, v in enumerate(values)
    ]
    if "beds_total" not in fixed and field != "beds_total":
        # The capacity changed on the newest: the question about a capacity unchanged for
        # 30 days stays out of these tests too.
        reports[-1]["beds_total"] = 201
    return tuple(reports)


def expected_far(label: str, value: int, earlier: list[int]) -> str:
    """The message for `value` against `earlier` (oldest first): the last 30, as the rule says."""
    last = earlier[-rules.OUTLIER_HISTORY :]
    mean = statistics.fmean(last)
    spread = max(statistics.pstdev(last), rules.OUTLIER_MIN_SPREAD, mean / 10)
    low = max(0, math.ceil(mean - 3 * spread))
    high = math.floor(mean + 3 * spread)
    assert not low <= value <= high, "the test value should be outside the band"
    return (
        f"{label} ({value}) is far from this hospital's last {len(last)} reports "
        f"(mean {mean:.1f}, usually {low}–{high})."
    )


def post_new(client, hospital_id, data):
    return client.post(f"/hospitals/{hospital_id}/reports/new", data=data)


def only_report(app, hospital_id, day=None) -> Report:
    with app.app_context():
        report = db.session.scalar(
            select(Report).where(
                Report.hospital_id == hospital_id,
                Report.report_date == (day or yesterday()),
            )
        )
        db.session.expunge(report)
        return report


# --- The form --------------------------------------------------------------------------------


def test_a_wild_figure_asks_for_confirmation_and_saves_nothing(app, client, csrf):
    hospital_id = make_hospital(app, reports=history(STEADY))
    response = post_new(client, hospital_id, report_form(csrf, admissions=85))
    assert response.status_code == 422
    message = expected_far("Admissions", 85, STEADY)
    html = response.get_data(as_text=True)
    # At the top, in the alert, as a warning (nothing is wrong with the form), and beside
    # the figures, with the box to tick.
    assert 'class="error-summary"' not in html
    summary = re.search(r'<div class="warning-summary" role="alert".*?</div>', html, re.S).group(0)
    assert page_text_of(summary).startswith("Check these unusual figures before saving")
    assert message in page_text_of(summary)
    assert "to correct" not in page_text(response)
    assert 'href="#admissions"' in summary and 'href="#confirm_outlier"' in summary
    box = re.search(r'<section class="outlier-check.*?</section>', html, re.S).group(0)
    assert message in page_text_of(box)
    assert "These figures are correct" in page_text_of(box)
    checkbox = re.search(r'<input[^>]*id="confirm_outlier"[^>]*>', html).group(0)
    assert "autofocus" in checkbox and "checked" not in checkbox
    assert html.count("autofocus") == 1
    # Everything typed is kept.
    assert re.search(r'id="admissions"[^>]*value="85"', html)
    assert count(app, Report) == len(STEADY)


def field_block(html: str, name: str) -> str:
    """The markup the field macro draws for `name`: its div, label, notes and input."""
    match = re.search(rf'<div class="field[^"]*">\s*<label for="{name}">.*?</div>', html, re.S)
    assert match, f"no field {name}"
    return match.group(0)


def test_the_unusual_figure_is_marked_beside_itself(app, client, csrf):
    hospital_id = make_hospital(app, reports=history(STEADY))
    html = post_new(client, hospital_id, report_form(csrf, admissions=85)).get_data(as_text=True)
    block = field_block(html, "admissions")
    low, high = re.search(r"usually (\d+)–(\d+)", expected_far("Admissions", 85, STEADY)).groups()
    assert "field--unusual" in block
    assert f"Unusual: far above the last 30 reports (usually {low}–{high})" in page_text_of(block)
    described = re.search(r'<input[^>]*id="admissions"[^>]*>', block).group(0)
    assert 'aria-describedby="admissions-unusual"' in described
    assert 'id="admissions-unusual"' in block
    assert "aria-invalid" not in described  # unusual, not wrong
    # The usual figures carry no mark.
    for name in ("discharges", "beds_occupied"):
        assert "Unusual" not in page_text_of(field_block(html, name))
    assert html.count("Unusual:") == 1


def test_a_figure_far_below_and_an_occupancy_jump_mark_their_fields(app, client, csrf):
    # 30 days at 150 of 200 beds and 30 admissions, then 20 occupied and 3 admissions.
    steady = tuple(
        {"report_date": days_before(yesterday(), n), "admissions": 30} for n in range(30, 0, -1)
    )
    hospital_id = make_hospital(app, reports=steady)
    data = report_form(csrf, admissions=3, beds_occupied=20)
    html = post_new(client, hospital_id, data).get_data(as_text=True)
    assert "Unusual: far below the last 30 reports" in page_text_of(field_block(html, "admissions"))
    jump = (
        "Unusual: bed occupancy falls from 75.0 % to 10.0 % "
        f"since the report of {shown(days_before(yesterday(), 1))}"
    )
    # Either figure of the rate may be the mistyped one: both are marked.
    assert jump in page_text_of(field_block(html, "beds_occupied"))
    assert jump in page_text_of(field_block(html, "beds_total"))
    summary = re.search(r'<div class="warning-summary".*?</div>', html, re.S).group(0)
    assert 'href="#beds_occupied"' in summary and 'href="#admissions"' in summary


def test_real_errors_are_still_errors_and_ask_nothing_about_unusual_figures(app, client, csrf):
    hospital_id = make_hospital(app, reports=history(STEADY))
    data = report_form(csrf, admissions=85, beds_occupied=250)  # more than the 200 beds
    response = post_new(client, hospital_id, data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Nothing was saved: 1 field to correct" in page_text(response)
    assert 'class="warning-summary"' not in html and "Unusual:" not in html
    assert count(app, Report) == len(STEADY)


def page_text_of(fragment: str) -> str:
    import html

    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def test_ticked_box_saves_the_report_marked_with_its_warnings(app, client, csrf):
    hospital_id = make_hospital(app, reports=history(STEADY))
    data = report_form(csrf, admissions=85, confirm_outlier="y", follow_up_reason="surge")
    response = post_new(client, hospital_id, data)
    assert response.status_code == 303
    report = only_report(app, hospital_id)
    message = expected_far("Admissions", 85, STEADY)
    assert (report.admissions, report.outlier_confirmed) == (85, True)
    assert report.outlier_note == message
    # Marked in the hospital's history, and on its edit page, where the box starts ticked.
    detail = page_text(client.get(f"/hospitals/{hospital_id}"))
    assert f"Confirmed unusual {message}" in detail
    edit = client.get(f"/reports/{report.id}/edit")
    assert f"Confirmed unusual {message}" in page_text(edit)
    assert "checked" in re.search(r'<input[^>]*id="confirm_outlier"[^>]*>', edit.text).group(0)


def test_usual_figures_are_saved_without_a_question(app, client, csrf):
    hospital_id = make_hospital(app, reports=history(STEADY))
    page = client.get(f"/hospitals/{hospital_id}/reports/new")
    assert "confirm_outlier" not in page.get_data(as_text=True)
    # A tick without anything unusual marks nothing.
    response = post_new(
        client,
        hospital_id,
        report_form(csrf, admissions=13, confirm_outlier="y", follow_up_reason="surge"),
    )
    assert response.status_code == 303
    report = only_report(app, hospital_id)
    assert (report.outlier_confirmed, report.outlier_note) == (False, None)
    assert "Confirmed unusual" not in page_text(client.get(f"/hospitals/{hospital_id}"))


def test_an_occupancy_jump_after_a_single_report_asks_for_confirmation(app, client, csrf):
    before = days_before(yesterday(), 3)
    hospital_id = make_hospital(app, reports=({"report_date": before, "beds_occupied": 82},))
    response = post_new(client, hospital_id, report_form(csrf, beds_occupied=176))
    assert response.status_code == 422
    now, then = 100 * 176 / 200, 100 * 82 / 200
    assert (
        f"Bed occupancy jumps from {then:.1f} % to {now:.1f} % ({now - then:.1f} points) "
        f"since the report of {shown(before)}."
    ) in page_text(response)
    assert count(app, Report) == 1
    # 30 points exactly is not more than 30: 41 % → 71 %.
    assert post_new(client, hospital_id, report_form(csrf, beds_occupied=142)).status_code == 303


def test_icu_occupancy_falling_is_a_warning_too(app):
    before = days_before(yesterday(), 1)
    hospital_id = make_hospital(app, reports=({"report_date": before, "icu_beds_occupied": 18},))
    with app.app_context():
        warnings = report_warnings(
            hospital_id, yesterday(), {"icu_beds_occupied": 4, "icu_beds_total": 20}
        )
    assert warnings == [
        f"ICU occupancy falls from 90.0 % to 20.0 % (70.0 points) "
        f"since the report of {shown(before)}."
    ]


@pytest.mark.parametrize("earlier, warned", [(4, False), (5, True)])
def test_the_history_rule_needs_five_earlier_reports(app, client, csrf, earlier, warned):
    hospital_id = make_hospital(app, reports=history([10] * earlier))
    response = post_new(client, hospital_id, report_form(csrf, admissions=85))
    assert response.status_code == (422 if warned else 303)
    if warned:
        assert expected_far("Admissions", 85, [10] * earlier) in page_text(response)


def test_a_constant_history_still_allows_small_changes(app):
    hospital_id = make_hospital(app, reports=history([10] * 30))
    with app.app_context():

        def warned(value):
            return report_warnings(hospital_id, yesterday(), {"admissions": value})

        assert warned(11) == [] and warned(13) == [] and warned(7) == []
        assert warned(40) == [expected_far("Admissions", 40, [10] * 30)]
        assert warned(14) == [expected_far("Admissions", 14, [10] * 30)]
        assert "usually 7–13" in warned(6)[0]


def test_only_the_last_30_reports_before_the_date_count(app):
    # 20 old wild reports, then 30 steady ones: the wild ones are out of the window.
    values = [500] * 20 + STEADY[:30]
    day = days_before(yesterday(), 1)
    hospital_id = make_hospital(app, reports=history(values, end=day))
    # Reports of that date or later are not its history either.
    make_report(app, hospital_id, report_date=day, admissions=700)
    make_report(app, hospital_id, report_date=yesterday(), admissions=900)
    with app.app_context():
        warnings = report_warnings(hospital_id, day, {"admissions": 85})
    assert warnings == [expected_far("Admissions", 85, STEADY[:30])]


def test_editing_a_report_leaves_it_out_of_its_own_history(app, client, csrf):
    # Steady at 75 % occupancy; the newest report says 10 % and is moved a day later and
    # corrected. Compared with itself it would jump from 10 % to 75 %.
    hospital_id = make_hospital(app, reports=history(STEADY[:30], end=days_before(yesterday(), 1)))
    report_id = make_report(
        app, hospital_id, report_date=days_before(yesterday(), 1), beds_occupied=20
    )
    response = client.post(f"/reports/{report_id}/edit", data=report_form(csrf, admissions=85))
    assert response.status_code == 422
    text = page_text(response)
    assert expected_far("Admissions", 85, STEADY[:30]) in text
    assert "occupancy" not in text
    assert fetch(app, Report, report_id).report_date == days_before(yesterday(), 1)


def test_correcting_the_figures_clears_the_mark(app, client, csrf):
    hospital_id = make_hospital(app, reports=history(STEADY))
    post_new(
        client,
        hospital_id,
        report_form(csrf, admissions=85, confirm_outlier="y", follow_up_reason="surge"),
    )
    report = only_report(app, hospital_id)
    assert report.outlier_confirmed
    # Saved again, still unusual and still ticked (the box starts ticked): still marked.
    data = report_form(
        csrf, admissions=85, confirm_outlier="y", follow_up_reason="surge", notes="checked twice"
    )
    assert client.post(f"/reports/{report.id}/edit", data=data).status_code == 303
    assert fetch(app, Report, report.id).outlier_confirmed
    # Unticked while still unusual: asked again, nothing changes.
    data = report_form(csrf, admissions=85, notes="unticked")
    assert client.post(f"/reports/{report.id}/edit", data=data).status_code == 422
    assert fetch(app, Report, report.id).notes == "checked twice"
    # Corrected: the mark goes.
    data = report_form(csrf, admissions=12, confirm_outlier="y", follow_up_reason="surge")
    assert client.post(f"/reports/{report.id}/edit", data=data).status_code == 303
    report = fetch(app, Report, report.id)
    assert (report.admissions, report.outlier_confirmed, report.outlier_note) == (12, False, None)
    assert "Confirmed unusual" not in page_text(client.get(f"/hospitals/{hospital_id}"))


def test_the_audit_trail_records_the_confirmation_and_its_removal(app, client, csrf):
    hospital_id = make_hospital(app, reports=history(STEADY))
    post_new(
        client,
        hospital_id,
        report_form(csrf, admissions=85, confirm_outlier="y", follow_up_reason="surge"),
    )
    report_id = only_report(app, hospital_id).id
    client.post(f"/reports/{report_id}/edit", data=report_form(csrf, admissions=12))
    with app.app_context():
        entries = list(
            db.session.scalars(
                select(AuditEntry)
                .where(AuditEntry.record_type == "report", AuditEntry.record_id == report_id)
                .order_by(AuditEntry.id)
            )
        )
    message = expected_far("Admissions", 85, STEADY)
    created, corrected = entries
    assert created.action == "create"
    assert created.changes["outlier_confirmed"][1] is True
    assert created.changes["outlier_note"][1] == message
    assert corrected.changes["outlier_confirmed"] == [True, False]
    assert corrected.changes["outlier_note"] == [message, None]
    assert "Unusual figures confirmed" in page_text(client.get(f"/reports/{report_id}/history"))


def test_a_new_hospital_and_its_first_report_have_no_history_to_differ_from(app, client, csrf):
    response = client.post("/hospitals/new", data=new_hospital_form(csrf, admissions=9999))
    assert response.status_code == 303
    with app.app_context():
        report = db.session.scalar(select(Report))
        assert (report.outlier_confirmed, report.outlier_note) == (False, None)


def test_warnings_are_one_aggregate_query_whatever_the_history(app, client, csrf):
    statements = {}
    for n, code in ((6, "A-1"), (40, "B-1")):
        hospital_id = make_hospital(app, code=code, reports=history(STEADY[:n]))
        with count_queries(app) as sent:
            response = post_new(client, hospital_id, report_form(csrf, admissions=85))
        assert response.status_code == 422
        statements[n] = [s for s in sent if "hospital_stats" in s]
    assert len(statements[6]) == len(statements[40])
    history_queries = [s for s in statements[40] if "sum(" in s.lower()]
    assert len(history_queries) == 1
    assert "sum(" in history_queries[0].lower() and "group by" in history_queries[0].lower()


# --- The batch function (for the importer) ---------------------------------------------------


def test_batch_gives_the_same_warnings_as_one_by_one_in_one_query(app):
    hospitals = [
        make_hospital(app, code=f"H-{k}", reports=history(STEADY[k : k + 30], beds_occupied=80))
        for k in range(5)
    ]
    rows = []
    for i in range(50):
        day = days_before(yesterday(), i % 3)  # later dates see the earlier reports
        counts = {
            "beds_total": 200,
            "beds_occupied": (80, 150, 60)[i % 3],
            "admissions": (12, 85, 0, 30)[i % 4],
            "deaths": i % 5,
        }
        rows.append(ReportRow(hospitals[i % 5], day, counts))
    with app.app_context():
        one_by_one = [report_warnings(r.hospital_id, r.report_date, r.counts) for r in rows]
    with app.app_context(), count_queries(app) as sent:
        batched = batch_warnings(rows)
    assert batched == one_by_one
    assert len(sent) == 1
    assert any(batched) and not all(batched)
    with app.app_context(), count_queries(app) as sent_one:
        assert batch_warnings(rows[:1]) == one_by_one[:1]
    assert len(sent_one) == 1
    with app.app_context(), count_queries(app) as none:
        assert batch_warnings([]) == []
    assert none == []


def test_batch_rows_may_replace_a_stored_report(app):
    hospital_id = make_hospital(app, reports=history(STEADY[:30]))
    newest = make_report(
        app, hospital_id, report_date=yesterday(), beds_occupied=20, icu_beds_occupied=4
    )
    counts = {"beds_total": 200, "beds_occupied": 150}
    with app.app_context():
        # The stored report of the same date is not earlier, so never its own history; a
        # report moved to a later date is left out by its id.
        same_day = batch_warnings([ReportRow(hospital_id, yesterday(), counts)])
        with_itself = report_warnings(hospital_id, today(), counts)
        without = report_warnings(hospital_id, today(), counts, newest)
    assert same_day == [[]]
    assert with_itself == [
        "Bed occupancy jumps from 10.0 % to 75.0 % (65.0 points) "
        f"since the report of {shown(yesterday())}."
    ]
    assert without == []


def test_the_note_fits_its_column():
    long = ["x" * 300, "y" * 300]
    note = outlier_note(long)
    assert len(note) == rules.OUTLIER_NOTE_MAX and note.endswith("…")
    assert outlier_note([]) is None
    assert outlier_note(["a.", "b."]) == "a. b."
