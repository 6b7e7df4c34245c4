"""Several hospitals on one screen (/entry/grid) in a real Chromium, against the app served
by gunicorn: two rows typed with the keyboard alone (Tab along the row), a wrong cell that
saves no row, the page at a phone's width, and the README's screenshot. axe runs on the
grid in test_accessibility.py, at desktop and phone widths."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from helpers import count, make_hospital, today
from playwright.sync_api import expect

from hospital_app.models import Report
from hospital_app.rules import CAPACITY_FIELDS, DAY_FIGURES

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DOCS = Path(__file__).resolve().parents[2] / "docs"
FOCUSED = "() => document.activeElement ? document.activeElement.name ?? null : null"


def shown_day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


def seed(app) -> list[int]:
    """Three hospitals still to do today, in the grid's order (by name), with yesterday's
    report, whose capacity the grid starts from."""
    return [
        make_hospital(app, code="ALD-1", name="Alder Community Hospital", region="North"),
        make_hospital(app, code="BIR-2", name="Birchwood General Hospital", region="North"),
        make_hospital(app, code="CED-3", name="Cedar Vale Infirmary", region="South"),
    ]


def reports_today(app) -> int:
    return count(app, Report, Report.report_date == today())


def type_row(page, figures: list[str]) -> None:
    """Type a row's day figures from its first cell, then Tab past its capacity (filled
    in) to the next row's first cell."""
    for figure in figures:
        page.keyboard.type(figure)
        page.keyboard.press("Tab")
    for _ in CAPACITY_FIELDS:
        page.keyboard.press("Tab")


def test_two_rows_typed_with_the_keyboard_are_saved_together(app, live_server, page):
    alder, birch, cedar = seed(app)
    page.goto("/entry")
    page.get_by_role("link", name="Enter several hospitals on one screen").click()
    expect(page.get_by_role("heading", name="Several hospitals")).to_be_visible()

    # The cursor starts in the first row's first figure; Tab goes along the row.
    assert page.evaluate(FOCUSED) == f"h{alder}-{DAY_FIGURES[0]}"
    type_row(page, ["150", "12", "6", "30", "25", "1"])
    assert page.evaluate(FOCUSED) == f"h{birch}-{DAY_FIGURES[0]}"
    # 150 yesterday + 20 − 22 = 148: the beds add up (census check).
    type_row(page, ["148", "10", "5", "20", "22", "0"])
    assert page.evaluate(FOCUSED) == f"h{cedar}-{DAY_FIGURES[0]}"  # left empty
    with page.expect_navigation():
        page.keyboard.press("Enter")

    expect(page.locator(".flash--success")).to_have_text(
        f"2 reports saved for {shown_day(today())}."
    )
    assert page.url.endswith(f"/entry?date={today().isoformat()}")
    assert reports_today(app) == 2


def test_a_wrong_cell_saves_no_row_and_is_shown_beside_its_row(app, live_server, page, screenshots):
    alder, birch, _cedar = seed(app)
    page.goto("/entry/grid")
    page.get_by_label("Occupied beds, Alder Community Hospital").fill("150")
    for name, value in zip(DAY_FIGURES[1:], ["12", "6", "30", "25", "1"], strict=True):
        page.fill(f"[name=h{alder}-{name}]", value)
    page.get_by_label("Occupied beds, Birchwood General Hospital").fill("999")  # > 200 beds
    for name, value in zip(DAY_FIGURES[1:], ["10", "5", "20", "22", "0"], strict=True):
        page.fill(f"[name=h{birch}-{name}]", value)
    with page.expect_navigation():
        page.get_by_role("button", name="Save the filled rows").click()

    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("Nothing was saved: 1 hospital to correct or confirm")
    beside = page.locator(".entry-grid__problems")
    expect(beside).to_have_count(1)
    expect(beside).to_contain_text(
        "Occupied beds, Birchwood General Hospital: Occupied beds (999) cannot exceed "
        "total beds (200)."
    )
    wrong = page.get_by_label("Occupied beds, Birchwood General Hospital")
    expect(wrong).to_have_attribute("aria-invalid", "true")
    expect(wrong).to_be_focused()
    expect(wrong).to_have_value("999")
    expect(page.get_by_label("Occupied beds, Alder Community Hospital")).to_have_value("150")
    page.screenshot(path=screenshots / "grid-errors.png", full_page=True)
    assert reports_today(app) == 0

    # The summary's link leads to the cell; corrected, both rows are saved.
    wrong.fill("148")  # yesterday's 150 + 20 − 22: the beds add up (census check)
    with page.expect_navigation():
        page.get_by_role("button", name="Save the filled rows").click()
    expect(page.locator(".flash--success")).to_contain_text("2 reports saved")
    assert reports_today(app) == 2


def test_the_grid_fits_a_desktop_and_a_phone(app, live_server, page, screenshots):
    alder, *_ = seed(app)
    page.goto("/entry/grid")
    page.fill(f"[name=h{alder}-beds_occupied]", "150")
    page.fill(f"[name=h{alder}-icu_beds_occupied]", "12")
    # At 1280 px the whole row is on screen, its last cell not cut off.
    last = page.locator(f"[name=h{alder}-{CAPACITY_FIELDS[-1]}]")
    box = last.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1280
    page.screenshot(path=screenshots / "grid.png", full_page=True)
    DOCS.mkdir(exist_ok=True)
    shutil.copyfile(screenshots / "grid.png", DOCS / "grid.png")

    page.set_viewport_size(PHONE)
    page.reload()
    page.screenshot(path=screenshots / "phone-grid.png", full_page=True)
    # The table scrolls inside its own box; the page itself does not scroll sideways.
    scroll_width, inner_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert scroll_width <= inner_width + 1
    # The hospital's name stays in view beside the figures while the table scrolls.
    page.get_by_label("Total ventilators, Alder Community Hospital").focus()
    name = page.get_by_role("rowheader", name="ALD-1 Alder Community Hospital")
    box = name.bounding_box()
    assert box is not None and 0 <= box["x"] < PHONE["width"]
