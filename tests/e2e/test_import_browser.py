"""The CSV round trip as a person does it, in a real Chromium against gunicorn: download the
reports list's export, check it with a dry run, import it, and see nothing change; then a file
with a bad row, whose problems are listed while nothing is saved."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import count, make_hospital
from helpers import today as app_today
from playwright.sync_api import expect

from hospital_app.models import AuditEntry, Report

pytestmark = pytest.mark.browser


def test_export_then_import_in_the_browser(app, page, screenshots, tmp_path):
    today = app_today()
    make_hospital(
        app,
        reports=tuple(
            {"report_date": today - timedelta(days=n), "notes": "=1+1" if n == 2 else None}
            for n in range(1, 6)
        ),
    )
    entries = count(app, AuditEntry)

    page.goto("/reports")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"reports-all-{today.isoformat()}.csv"
    exported = tmp_path / download.suggested_filename
    download.save_as(exported)
    assert "'=1+1" in exported.read_text(encoding="utf-8-sig")

    page.get_by_role("link", name="Import").click()
    page.get_by_label("CSV file").set_input_files(exported)
    page.get_by_label("Check only (dry run)").check()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("[role=status]").first).to_contain_text(
        "importing it would give 0 new, 0 updated, 5 unchanged"
    )

    # The file just checked is imported without choosing it again.
    expect(page.get_by_label("Check only (dry run)")).not_to_be_checked()
    page.get_by_role("button", name="Import these 5 reports").click()
    expect(page.locator(".flash--success")).to_contain_text(
        f"Imported 5 rows of “{exported.name}”, the file you checked: 0 new, 0 updated, 5 unchanged"
    )
    assert count(app, AuditEntry) == entries  # nothing changed, nothing recorded

    bad = tmp_path / "bad.csv"
    lines = exported.read_text(encoding="utf-8-sig").splitlines()
    cells = lines[1].split(",")  # a copy of the first report, for today, with no bed count
    cells[1], cells[2] = today.isoformat(), "lots"
    lines.append(",".join(cells))  # line 7
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    page.get_by_label("CSV file").set_input_files(bad)
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was imported: 1 problem")
    problem = page.get_by_role("region", name="Problems in the file").locator("tbody tr")
    expect(problem).to_have_count(1)
    expect(problem.locator("td")).to_have_text(
        ["7", "beds_total", "Total beds must be a whole number from 0 to 100,000, not “lots”."]
    )
    page.screenshot(path=str(screenshots / "import-problems.png"), full_page=True)
    assert count(app, Report) == 5


def test_the_prefilled_template_filled_in_a_spreadsheet_way(app, page, tmp_path):
    """Download the template with one's hospitals, fill in the day's figures, save it as a
    European spreadsheet would (semicolons), check it, and import it with the button."""
    today = app_today()
    make_hospital(app, reports=({"report_date": today - timedelta(days=1)},))

    page.goto("/reports/import")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Template with your hospitals for").click()
    download = download_info.value
    assert download.suggested_filename == f"reports-import-{today.isoformat()}.csv"
    template = tmp_path / download.suggested_filename
    download.save_as(template)
    header, row = template.read_text(encoding="utf-8-sig").splitlines()
    assert row == f"NRH-001,{today.isoformat()},200,,20,,15,,,,,"

    cells = row.split(",")
    cells[3], cells[5], cells[7], cells[8], cells[9], cells[10] = "140", "9", "4", "12", "10", "0"
    filled = tmp_path / "filled.csv"
    filled.write_text(header.replace(",", ";") + "\r\n" + ";".join(cells) + "\r\n", "utf-8")

    page.get_by_label("CSV file").set_input_files(filled)
    page.get_by_label("Check only (dry run)").check()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("[role=status]").first).to_contain_text("separated by semicolons")
    page.get_by_role("button", name="Import this report").click()
    expect(page.locator(".flash--success")).to_contain_text(
        "Imported 1 row of “filled.csv”, the file you checked: 1 new"
    )
    assert count(app, Report) == 2
