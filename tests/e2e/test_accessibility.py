"""Accessibility (issue 5): axe-core, injected into each page of the app served by gunicorn,
finds no violation of impact "serious" or "critical" on the lists, details, forms (blank and
showing their errors), the dashboard and the sign-in page. Lesser findings are printed.

The pages are opened in a context that bypasses the Content-Security-Policy, for this test
only: the policy allows scripts from 'self' alone, so it would refuse the injected axe script.
axe-core comes from tests/e2e/package-lock.json (`make axe`); see the `axe` fixture.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import ADMIN_EMAIL, PASSWORD, make_hospital, make_report, make_user
from helpers import today as app_today
from playwright.sync_api import expect

from e2e.browser_helpers import DESKTOP, sign_in
from hospital_app.extensions import db
from hospital_app.models import FollowUp

pytestmark = pytest.mark.browser

FAILING_IMPACTS = ("critical", "serious")
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def context(browser, live_server):
    """The conftest's context, but one that lets the injected axe script run."""
    context = browser.new_context(
        base_url=live_server.url, viewport=DESKTOP, locale="en-US", bypass_csp=True
    )
    context.set_default_timeout(10_000)
    yield context
    context.close()


@dataclass
class Seeded:
    """What the pages show: ids of the records the seed made."""

    hospital: int
    archived: int
    report: int
    editor: int
    extra: dict[str, int] = field(default_factory=dict)


def seed(app) -> Seeded:
    """Enough records for every part of a page to be drawn: several hospitals (one archived),
    a history of reports (one confirmed unusual, one with notes), and an editor's account."""
    today = app_today()
    hospital = make_hospital(
        app,
        reports=tuple({"report_date": today - timedelta(days=d)} for d in range(2, 9)),
        code="NRH-001",
        name="Northside Regional Hospital",
        region="North",
    )
    report = make_report(
        app, hospital, report_date=today - timedelta(days=1), notes="Two wards closed for repairs."
    )
    unusual = make_report(
        app,
        hospital,
        report_date=today - timedelta(days=10),
        beds_occupied=199,
        outlier_confirmed=True,
        outlier_note="Bed occupancy far above this hospital's usual.",
    )
    with app.app_context():
        # Its follow-up (/followup), confirmed with a reason.
        db.session.add(
            FollowUp(report_id=unusual, fields="beds_occupied", reason="other", note="Flu wave")
        )
        db.session.commit()
    make_hospital(
        app,
        code="SVC-014",
        name="St Vincent's Community Hospital and Rehabilitation Centre",
        region="South",
        city="Marlow",
        ownership="non-profit",
    )
    make_hospital(app, reports=(), code="EHC-2", name="Eastbrook Health Clinic", region="East")
    archived = make_hospital(
        app, code="OLD-9", name="Old Mill Cottage Hospital", region="West", is_active=False
    )
    editor = make_user(
        app, "editor", email="eddie@example.org", name="Eddie Editor", hospitals=(hospital,)
    )
    make_user(app, "viewer", email="vera@example.org", name="Vera Viewer", active=False)
    return Seeded(hospital=hospital, archived=archived, report=report, editor=editor)


def submit(page) -> None:
    """Click the page's form's submit button; wait for the page the server answers with."""
    with page.expect_navigation():
        page.locator("form.record-form button[type=submit]").click()


def wrong_password(page, seeded: Seeded) -> None:
    page.get_by_label("Email").fill("eddie@example.org")
    page.get_by_label("Password").fill("not the password")
    submit(page)
    expect(page.locator(".error-summary")).to_contain_text("The email or password is not right")


def blank_hospital(page, seeded: Seeded) -> None:
    # The code is taken, occupied beds exceed the total, and the rest is left empty.
    page.fill("[name=code]", "NRH-001")
    page.fill("[name=beds_total]", "10")
    page.fill("[name=beds_occupied]", "20")
    submit(page)
    expect(page.locator(".field-error").first).to_be_visible()


def bad_report(page, seeded: Seeded) -> None:
    page.fill("[name=beds_total]", "10")
    page.fill("[name=beds_occupied]", "20")
    page.fill("[name=deaths]", "")
    submit(page)
    expect(page.locator(".field-error").first).to_be_visible()


def bad_account(page, seeded: Seeded) -> None:
    page.get_by_label("Email").fill("not an email")
    page.locator("input[name=password]").fill("short")
    page.locator("input[name=confirm]").fill("different")
    submit(page)
    expect(page.locator(".field-error").first).to_be_visible()


def bad_grid(page, seeded: Seeded) -> None:
    """The data-entry grid with a row wrong: more occupied beds than beds."""
    page.fill(f"[name=h{seeded.hospital}-beds_occupied]", "9999")
    with page.expect_navigation():
        page.locator("form.grid-form button[type=submit]").click()
    expect(page.locator(".field-error").first).to_be_visible()


def edit_a_hospital(page, seeded: Seeded) -> None:
    """An entry in the audit trail made through the form, so /audit has rows to show."""
    page.goto(f"/hospitals/{seeded.hospital}/edit")
    page.get_by_label("City").fill("Ashford Vale")
    submit(page)
    expect(page.locator(".flash--success")).to_be_visible()


def bad_settings(page, seeded: Seeded) -> None:
    # A time control takes no text: the error comes from the number of days.
    page.fill("[name=close_after_days]", "9999")
    submit(page)
    expect(page.locator(".field-error").first).to_be_visible()


def bad_exception(page, seeded: Seeded) -> None:
    page.fill("[name=hours]", "0")
    submit(page)
    expect(page.locator(".field-error").first).to_be_visible()


def open_an_exception(page, seeded: Seeded) -> None:
    """An exception made through the form, so /settings/exceptions has a row to show."""
    page.goto("/settings/exceptions/new")
    page.select_option("[name=hospital]", str(seeded.hospital))
    page.fill("[name=date_from]", "2020-01-01")
    page.fill("[name=date_to]", "2020-01-07")
    page.fill("[name=reason]", "Corrections from the lab")
    submit(page)
    expect(page.locator(".flash--success")).to_be_visible()


REVIEW_DAY = f"/review?region=North&date={(app_today() - timedelta(days=1)).isoformat()}"


def sign_off_the_day(page, seeded: Seeded) -> None:
    """North's yesterday signed off through the review page, so its report can be reopened."""
    page.goto(REVIEW_DAY)
    with page.expect_navigation():
        page.locator("form.record-form button[type=submit]").click()
    expect(page.locator(".flash--success").first).to_contain_text("signed off")


def no_reason(page, seeded: Seeded) -> None:
    submit(page)
    expect(page.locator(".field-error").first).to_be_visible()


@dataclass(frozen=True)
class Page:
    name: str
    path: str  # formatted with the Seeded record's fields
    signed_in: bool = True
    status: int = 200
    before: Callable | None = None  # runs before the page is opened (makes records)
    then: Callable | None = None  # runs on the opened page (fills and submits its form)
    phone: bool = False  # at a phone's width, where the header and tables wrap


PAGES = [
    Page("sign-in", "/login", signed_in=False),
    Page("sign-in-error", "/login", signed_in=False, then=wrong_password),
    # The dashboard (issue 4).
    Page("dashboard", "/"),
    Page("hospitals", "/hospitals"),
    Page("hospital-detail", "/hospitals/{hospital}"),
    Page("hospital-archived", "/hospitals/{archived}"),
    Page("hospital-new", "/hospitals/new"),
    Page("hospital-new-errors", "/hospitals/new", then=blank_hospital),
    Page("hospital-edit", "/hospitals/{hospital}/edit"),
    Page("report-new", "/hospitals/{hospital}/reports/new"),
    Page("report-new-errors", "/hospitals/{hospital}/reports/new", then=bad_report),
    Page("report-edit", "/reports/{report}/edit"),
    Page("report-edit-errors", "/reports/{report}/edit", then=bad_report),
    Page("report-delete", "/reports/{report}/delete"),
    # The reports list and the CSV import: 200 once they are there.
    Page("stats", "/reports"),
    Page("stats-import", "/reports/import"),
    # Data entry (issue 11): the day's list, and the report form reached from it.
    Page("entry", "/entry"),
    Page("report-new-from-entry", "/hospitals/{hospital}/reports/new?entry=1"),
    Page("accounts", "/accounts"),
    Page("account-new", "/accounts/new"),
    Page("account-new-errors", "/accounts/new", then=bad_account),
    Page("account-edit", "/accounts/{editor}/edit"),
    Page("account-deactivate", "/accounts/{editor}/deactivate"),
    Page("hospital-archive", "/hospitals/{hospital}/archive"),
    Page("password", "/account/password"),
    Page("audit", "/audit", before=edit_a_hospital),
    Page("reminders", "/reminders"),
    # The reporting cycle (issue 12): its settings and the exceptions to closing.
    Page("settings", "/settings"),
    Page("settings-errors", "/settings", then=bad_settings),
    Page("settings-exceptions", "/settings/exceptions", before=open_an_exception),
    Page("settings-exception-new", "/settings/exceptions/new"),
    Page("settings-exception-new-errors", "/settings/exceptions/new", then=bad_exception),
    Page("timeliness", "/timeliness"),
    Page("timeliness-errors", "/timeliness?from=2026-02-30&region=Atlantis", status=400),
    Page("hospital-history", "/hospitals/{hospital}/history", before=edit_a_hospital),
    # Issue 13: the follow-up list, and a report's history with its "put back" buttons.
    Page("followup", "/followup"),
    Page("report-history", "/reports/{report}/history"),
    # Review and sign-off (issue 13): a region's day, and reopening a signed-off report.
    Page("review", REVIEW_DAY),
    Page("review-signed-off", REVIEW_DAY, before=sign_off_the_day),
    Page(
        "review-reopen-errors",
        "/review/{report}/reopen",
        before=sign_off_the_day,
        then=no_reason,
    ),
    Page("not-found", "/hospitals/999999", status=404),
    # Several hospitals on one screen (issue 11): blank, and with a wrong row.
    Page("entry-grid", "/entry/grid"),
    Page("entry-grid-errors", "/entry/grid", then=bad_grid),
    # A narrow screen rearranges the header and the lists: white text spilling off the green
    # header, for one, is a contrast failure only there.
    Page("phone-dashboard", "/", phone=True),
    Page("phone-hospitals", "/hospitals", phone=True),
    Page("phone-entry", "/entry", phone=True),
    Page("phone-hospital-detail", "/hospitals/{hospital}", phone=True),
    Page("phone-report-edit-errors", "/reports/{report}/edit", then=bad_report, phone=True),
    Page("phone-entry-grid", "/entry/grid", phone=True),
    Page("phone-entry-grid-errors", "/entry/grid", then=bad_grid, phone=True),
]


def describe(violation: dict) -> str:
    """One violation as a person reads it: rule, impact, what to do, and where."""
    lines = [f"- {violation['id']} ({violation['impact']}): {violation['help']}"]
    lines.append(f"  {violation['helpUrl']}")
    for node in violation["nodes"]:
        target = " ".join(str(t) for t in node["target"])
        lines.append(f"    at {target}")
        summary = (node.get("failureSummary") or "").replace("\n", " ")
        if summary:
            lines.append(f"       {summary}")
    return "\n".join(lines)


def run_axe(page, axe: Path) -> tuple[list[dict], list[dict]]:
    """axe-core's violations on the page as it is now, and what it could not decide (needs a
    person's review, e.g. a contrast over a background it cannot compute)."""
    page.add_script_tag(path=str(axe))
    return page.evaluate(
        "async () => { const r = await axe.run(document); return [r.violations, r.incomplete]; }"
    )


def failing(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in FAILING_IMPACTS]


def test_axe_reports_a_field_without_a_label(axe, app, live_server, blank_page):
    """The check itself: the sign-in page, its Email label removed, fails it, naming the rule,
    its impact and the field."""
    blank_page.goto("/login")
    blank_page.evaluate("() => document.querySelector('label[for=email]').remove()")
    violations, _ = run_axe(blank_page, axe)
    message = "\n".join(describe(v) for v in failing(violations))
    assert "- label (critical): Form elements must have labels" in message, message
    assert "    at #email" in message, message


@pytest.mark.parametrize("spec", PAGES, ids=[p.name for p in PAGES])
def test_page_has_no_serious_accessibility_violation(
    axe, app, live_server, blank_page, screenshots, spec
):
    seeded = seed(app)
    page = blank_page
    if spec.phone:
        page.set_viewport_size(PHONE)
    if spec.signed_in:
        make_user(app, "admin", email=ADMIN_EMAIL, password=PASSWORD, name="Ada Admin")
        sign_in(page, ADMIN_EMAIL)
    if spec.before:
        spec.before(page, seeded)

    response = page.goto(spec.path.format(**vars(seeded)))
    assert response.status == spec.status, (
        f"{spec.path} answered {response.status}, not {spec.status}: "
        "is the page there yet?" + ("" if response.status != 404 else " (404: no such route)")
    )
    if spec.then:
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            spec.then(page, seeded)
        assert posted.value.status in (200, 422), f"the submission answered {posted.value.status}"
    page.wait_for_load_state()
    page.screenshot(path=screenshots / f"a11y-{spec.name}.png", full_page=True)

    violations, undecided = run_axe(page, axe)
    lesser = [v for v in violations if v["impact"] not in FAILING_IMPACTS]
    if lesser:
        print(f"{spec.name} ({page.url}): moderate or minor axe findings (not failing):")
        print("\n".join(describe(v) for v in lesser))
    if undecided:
        print(f"{spec.name} ({page.url}): axe could not decide these (check by eye):")
        for v in undecided:
            targets = [" ".join(str(t) for t in node["target"]) for node in v["nodes"]]
            more = f" and {len(targets) - 3} more" if len(targets) > 3 else ""
            print(f"- {v['id']} on {len(targets)} element(s): {', '.join(targets[:3])}{more}")
    serious = failing(violations)
    assert not serious, (
        f"axe-core found {len(serious)} serious or critical violation(s) on {spec.name} "
        f"({page.url}):\n" + "\n".join(describe(v) for v in serious)
    )
