"""The dashboard and a hospital's chart in a real Chromium: the charts are drawn (a box of
some size on the page), with one vertex per day that has reports, and no CSP violation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import make_hospital
from helpers import today as app_today
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

DAYS_WITH_REPORTS = [k for k in range(10) if k != 4]  # days ago; 4 days ago is a gap


def vertices(chart) -> int:
    """Points drawn in a chart: the vertices of its lines and its lone dots."""
    lines = chart.locator("polyline")
    points = sum(len(lines.nth(i).get_attribute("points").split()) for i in range(lines.count()))
    return points + chart.locator("circle.point").count()


def drawn(chart) -> None:
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 150, box


def test_dashboard_and_hospital_charts(app, page, screenshots):
    today = app_today()
    ids = [
        make_hospital(
            app,
            reports=tuple(
                {
                    "report_date": today - timedelta(days=k),
                    "beds_occupied": 120 + 8 * n + 3 * k,
                    "icu_beds_occupied": 8 + n + (k % 4),
                }
                for k in DAYS_WITH_REPORTS
            ),
            code=f"E2E-{n}",
            name=f"{region} Hospital {n}",
            region=region,
        )
        for n, region in enumerate(("North", "South", "North"))
    ]
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto("/?days=30")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator("#coverage")).to_contain_text("What these figures cover")
    charts = page.locator("svg.chart__svg")
    expect(charts).to_have_count(3)
    network = page.locator("figure:has(#chart-network-title) svg.chart__svg")
    drawn(network)
    series = network.locator("g.series")
    expect(series).to_have_count(2)
    for i in range(2):
        # 9 days with reports in the 30; the gap 4 days ago splits each line in two.
        assert vertices(series.nth(i)) == len(DAYS_WITH_REPORTS)
        expect(series.nth(i).locator("polyline")).to_have_count(2)
    regions = page.locator("figure:has(#chart-regions-beds-title) svg.chart__svg g.series")
    expect(regions).to_have_count(2)
    # The figures' table opens from its summary and holds one row per day.
    figures = page.locator("figure:has(#chart-network-title) + details")
    figures.locator("summary").click()
    expect(figures.locator("tbody tr")).to_have_count(30)
    page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)

    page.get_by_role("link", name="Last 365 days").click()
    expect(page.locator("svg.chart__svg").first).to_have_attribute("data-days", "365")
    assert (
        vertices(page.locator("figure:has(#chart-network-title) svg.chart__svg g.series").first)
        == 9
    )

    page.goto(f"/hospitals/{ids[0]}")
    chart = page.locator("figure:has(#chart-hospital-title) svg.chart__svg")
    drawn(chart)
    hospital_series = chart.locator("g.series")
    expect(hospital_series).to_have_count(2)
    for i in range(2):
        assert vertices(hospital_series.nth(i)) == len(DAYS_WITH_REPORTS)
    page.screenshot(path=str(screenshots / "hospital.png"), full_page=True)

    # A style attribute or inline script would have been refused by the CSP, loudly.
    assert not [e for e in errors if "Content Security Policy" in e], errors
