"""A clerk's day in a real Chromium, with the keyboard alone: sign in, land on the data-entry
page, and enter each hospital's report with "Save and next hospital". The test counts the
keys pressed beyond the figures themselves and prints the counts (issue 11's measure)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import make_hospital, make_user, today
from playwright.sync_api import expect
from sqlalchemy import select

from e2e.browser_helpers import sign_in
from hospital_app.extensions import db
from hospital_app.models import Report

pytestmark = pytest.mark.browser

# At most this many keys beyond the figures for one report (Tab and Enter), with the
# capacity prefilled; and from saving one report to typing the next hospital's first figure.
KEYS_PER_REPORT = 6
KEYS_SAVE_TO_NEXT = 2

# The day's figures, in the order the form asks for them, for each hospital.
FIGURES = {
    "ALP-1": {"beds_occupied": "61", "icu_beds_occupied": "7", "ventilators_in_use": "3",
              "admissions": "12", "discharges": "10", "deaths": "1"},
    "BET-1": {"beds_occupied": "58", "icu_beds_occupied": "6", "ventilators_in_use": "2",
              "admissions": "9", "discharges": "11", "deaths": "0"},
    "GAM-1": {"beds_occupied": "60", "icu_beds_occupied": "8", "ventilators_in_use": "4",
              "admissions": "10", "discharges": "9", "deaths": "2"},
}  # fmt: skip


def usual_history(days: int = 10) -> tuple[dict, ...]:
    """Reports of the last days near the figures typed below, so none is unusual."""
    return tuple(
        {
            "report_date": today() - timedelta(days=d),
            "beds_total": 100,
            "beds_occupied": 60,
            "icu_beds_total": 10,
            "icu_beds_occupied": 7,
            "ventilators_total": 8,
            "ventilators_in_use": 3,
            "admissions": 10,
            "discharges": 10,
            "deaths": 1,
        }
        for d in range(1, days + 1)
    )


class Keyboard:
    """The page's keyboard, counting the keys that are not part of a figure."""

    def __init__(self, page):
        self.page = page
        self.extra = 0

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)

    def press(self, key: str) -> None:
        self.extra += 1
        self.page.keyboard.press(key)


def test_a_clerks_day_with_the_keyboard_alone(app, live_server, blank_page, screenshots):
    ids = {
        code: make_hospital(app, code=code, name=name, region="North", reports=usual_history())
        for code, name in (
            ("ALP-1", "Alpha Hospital"),
            ("BET-1", "Beta Hospital"),
            ("GAM-1", "Gamma Hospital"),
        )
    }
    make_user(
        app, "editor", email="clerk@example.org", name="Cleo Clerk", hospitals=(*ids.values(),)
    )
    page = blank_page
    sign_in(page, "clerk@example.org")
    # An editor lands on the day's data entry.
    expect(page).to_have_url(f"{live_server.url}/entry")
    expect(page.locator("main")).to_contain_text("3 of 3 hospitals still to do")
    page.screenshot(path=screenshots / "entry.png", full_page=True)

    page.get_by_role("link", name="Enter report for Alpha Hospital").click()
    keys = Keyboard(page)
    per_report, save_to_next = [], []
    saving_from = None  # the count when the last report's save key was pressed
    for code in FIGURES:
        expect(page.locator("h1")).to_contain_text(code)
        start = keys.extra
        for i, (name, value) in enumerate(FIGURES[code].items()):
            if i:
                keys.press("Tab")
            # Waits for the focus: Chromium applies autofocus just after the page is shown.
            expect(page.locator(f"[name={name}]")).to_be_focused()
            if i == 0 and saving_from is not None:
                save_to_next.append(keys.extra - saving_from)
            keys.type(value)
        saving_from = keys.extra
        with page.expect_navigation():
            keys.press("Enter")  # the first button: Save and next hospital
        per_report.append(keys.extra - start)

    print(f"\nkeys beyond the figures, per report: {per_report} (at most {KEYS_PER_REPORT})")
    print(f"keys from saving to the next hospital's first figure: {save_to_next} "
          f"(at most {KEYS_SAVE_TO_NEXT})")  # fmt: skip
    assert max(per_report) <= KEYS_PER_REPORT
    assert save_to_next and max(save_to_next) <= KEYS_SAVE_TO_NEXT

    # The last one saved, the clerk is back on the entry page: the day is complete.
    expect(page).to_have_url(f"{live_server.url}/entry?date={today().isoformat()}")
    expect(page.locator("main")).to_contain_text("The day is complete")
    page.screenshot(path=screenshots / "entry-complete.png", full_page=True)

    with app.app_context():
        saved = {
            r.hospital_id: r
            for r in db.session.scalars(select(Report).where(Report.report_date == today()))
        }
    assert set(saved) == set(ids.values())
    for code, figures in FIGURES.items():
        report = saved[ids[code]]
        assert {name: str(getattr(report, name)) for name in figures} == figures
        assert report.beds_total == 100  # the prefilled capacity, kept


def test_the_next_form_opens_in_its_first_figure(app, live_server, blank_page):
    """The second count on its own: after Enter, the next hospital's form has the focus in
    its first figure, so typing goes on at once (no key in between)."""
    first = make_hospital(app, code="ONE-1", name="One Hospital", reports=usual_history())
    second = make_hospital(app, code="TWO-1", name="Two Hospital", reports=usual_history())
    make_user(app, "editor", email="clerk@example.org", hospitals=(first, second))
    page = blank_page
    sign_in(page, "clerk@example.org")
    page.goto(f"/hospitals/{first}/reports/new?date={today().isoformat()}&entry=1")
    for name, value in FIGURES["ALP-1"].items():
        page.locator(f"[name={name}]").fill(value)
    page.locator("[name=deaths]").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("TWO-1")
    expect(page.locator("[name=beds_occupied]")).to_be_focused()
    page.keyboard.type("55")  # no Tab, no click: straight into the first figure
    expect(page.locator("[name=beds_occupied]")).to_have_value("55")
    # The date is still there for a different day: one Shift+Tab back.
    page.keyboard.press("Shift+Tab")
    expect(page.locator("[name=report_date]")).to_be_focused()
