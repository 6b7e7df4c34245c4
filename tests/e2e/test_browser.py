"""What a person sees in a real Chromium, against the app served by gunicorn: the new-hospital
form worked with the keyboard alone, its errors, a phone-width layout, and nothing loaded from
outside the machine. Each test also checks the rows the server wrote."""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from helpers import PASSWORD, count, make_hospital, make_user, today
from playwright.sync_api import expect

from e2e.browser_helpers import DESKTOP, sign_in
from hospital_app.models import Account, Hospital, Report

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}

FOCUSED = "() => document.activeElement ? document.activeElement.name ?? null : null"


def focused(page) -> str | None:
    """The name of the element that has the keyboard focus ('' for the submit button)."""
    return page.evaluate(FOCUSED)


def shown_day(value: date) -> str:
    """A date as the pages print it (templating.day): '3 Mar 2026'."""
    return f"{value.day} {value:%b %Y}"


def assert_log_clean(live_server, since: int) -> None:
    log = live_server.log(since)
    assert "Traceback" not in log, log
    assert "database is locked" not in log, log


def seed_hospitals(app) -> list[int]:
    return [
        make_hospital(app, code="NRH-001", name="Northside Regional Hospital", region="North"),
        make_hospital(
            app,
            code="SVC-014",
            name="St Vincent's Community Hospital and Rehabilitation Centre",
            region="South",
            city="Marlow",
            ownership="non-profit",
        ),
        make_hospital(
            app, code="EHC-2", name="Eastbrook Health Clinic", region="East", ownership="private"
        ),
    ]


def test_sign_in_follows_next_and_sign_out_ends_the_session(
    app, live_server, blank_page, screenshots
):
    since = live_server.log_offset()
    hospital_id = seed_hospitals(app)[0]
    make_user(
        app, "editor", email="eddie@example.org", name="Eddie Editor", hospitals=(hospital_id,)
    )
    page = blank_page

    # Signed out, a hospital's address leads to the login page, which remembers it.
    page.goto(f"/hospitals/{hospital_id}")
    assert urlsplit(page.url).path == "/login"
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_label("Email")).to_be_focused()
    page.screenshot(path=screenshots / "login.png", full_page=True)

    page.get_by_label("Email").fill("eddie@example.org")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".error-summary")).to_contain_text("The email or password is not right")
    # The email stays, the password does not.
    assert page.input_value("input[name=email]") == "eddie@example.org"
    assert page.input_value("input[name=password]") == ""

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/hospitals/{hospital_id}")
    expect(page.locator(".site-header")).to_contain_text("Eddie Editor (Editor)")
    # An editor of this hospital adds reports; hospital details are for administrators.
    expect(page.get_by_role("link", name="Add report")).to_be_visible()
    expect(page.get_by_role("link", name="Edit hospital")).to_have_count(0)
    expect(page.get_by_role("link", name="Accounts")).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".flash--success")).to_have_text("You are signed out.")
    page.goto("/hospitals")
    assert urlsplit(page.url).path == "/login"
    assert_log_clean(live_server, since)


def test_new_hospital_with_the_keyboard_only(app, live_server, page, screenshots):
    since = live_server.log_offset()
    day = today() - timedelta(days=1)
    page.goto("/hospitals/new")
    # The cursor starts in the first field, so typing can begin at once.
    expect(page.locator("input[name=code]")).to_be_focused()
    assert focused(page) == "code"

    # (field, keys typed there), in the order Tab visits them.
    steps = [
        ("code", "KBD-001"),
        ("name", "Keyboard General Hospital"),
        ("region", "West"),
        ("city", "Brookfield"),
        # A closed <select> jumps to the option whose label starts with the typed letters.
        ("ownership", "Pri"),
        # Month, day and year segments in en-US order; each full segment moves to the next.
        ("report_date", f"{day:%m%d%Y}"),
        # The day's figures, then the capacity (rules.REPORT_FORM_FIELDS).
        ("beds_occupied", "90"),
        ("icu_beds_occupied", "4"),
        ("ventilators_in_use", "3"),
        ("admissions", "17"),
        ("discharges", "12"),
        ("deaths", "0"),
        ("beds_total", "120"),
        ("icu_beds_total", "10"),
        ("ventilators_total", "8"),
        ("notes", "Entered with the keyboard only."),
    ]
    for name, keys in steps:
        assert focused(page) == name, f"Tab order: expected {name}, focus is on {focused(page)!r}"
        page.keyboard.type(keys)
        page.keyboard.press("Tab")
        # Chromium's date input keeps the focus for more than one Tab (one stop per segment
        # and one after the year): a keyboard user tabs on until the focus leaves it.
        for _ in range(3):
            if focused(page) != name:
                break
            page.keyboard.press("Tab")

    submit = page.get_by_role("button", name="Create hospital and report")
    expect(submit).to_be_focused()
    # What the keyboard put into the fields, as the browser will submit it.
    assert page.input_value("select[name=ownership]") == "private"
    assert page.input_value("input[name=report_date]") == day.isoformat()
    page.screenshot(path=screenshots / "new-hospital.png", full_page=True)

    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.keyboard.press("Enter")
    assert posted.value.status == 303
    page.wait_for_url(re.compile(r"/hospitals/\d+$"))

    match = re.fullmatch(rf"{re.escape(live_server.url)}/hospitals/(\d+)", page.url)
    assert match, page.url
    flash = page.locator(".flash--success")
    expect(flash).to_be_visible()
    expect(flash).to_have_text(
        "Hospital Keyboard General Hospital (KBD-001) was created "
        f"with its report for {shown_day(day)}."
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("Keyboard General Hospital")
    rows = page.get_by_role("region", name="Reports").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(shown_day(day))
    expect(rows.first).to_contain_text("90/120")
    expect(rows.first).to_contain_text("Entered with the keyboard only.")
    page.screenshot(path=screenshots / "detail.png", full_page=True)

    assert count(app, Hospital) == 1
    assert count(app, Report) == 1
    # The one row of each holds exactly what was typed.
    hospital_id = int(match.group(1))
    typed_hospital = [
        Hospital.id == hospital_id,
        Hospital.code == "KBD-001",
        Hospital.name == "Keyboard General Hospital",
        Hospital.region == "West",
        Hospital.city == "Brookfield",
        Hospital.ownership == "private",
    ]
    assert count(app, Hospital, *typed_hospital) == 1
    typed_report = [
        Report.hospital_id == hospital_id,
        Report.report_date == day,
        Report.beds_total == 120,
        Report.beds_occupied == 90,
        Report.icu_beds_total == 10,
        Report.icu_beds_occupied == 4,
        Report.ventilators_total == 8,
        Report.ventilators_in_use == 3,
        Report.admissions == 17,
        Report.discharges == 12,
        Report.deaths == 0,
        Report.notes == "Entered with the keyboard only.",
    ]
    assert count(app, Report, *typed_report) == 1
    assert_log_clean(live_server, since)


def test_invalid_report_keeps_the_input_and_points_at_the_field(app, live_server, page):
    since = live_server.log_offset()
    page.goto("/hospitals/new")
    typed = {
        "code": "BAD-001",
        "name": "Overfull Hospital",
        "region": "North",
        "city": "Ashford",
        "beds_total": "100",
        "beds_occupied": "150",
        "icu_beds_total": "10",
        "icu_beds_occupied": "5",
        "ventilators_total": "4",
        "ventilators_in_use": "2",
        "admissions": "7",
        "discharges": "6",
        "deaths": "1",
    }
    for name, value in typed.items():
        page.fill(f"[name={name}]", value)
    page.select_option("select[name=ownership]", "public")
    report_date = page.input_value("input[name=report_date]")

    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Create hospital and report").click()
    assert posted.value.status == 422
    page.wait_for_load_state()

    # The message sits beside the field it is about, and the cursor is already there.
    beds_occupied = page.locator(".field", has=page.locator("input[name=beds_occupied]"))
    expect(beds_occupied.locator(".field-error")).to_contain_text("cannot exceed total beds")
    expect(page.locator("input[name=beds_occupied]")).to_be_focused()
    assert focused(page) == "beds_occupied"
    expect(page.locator(".error-summary")).to_contain_text("cannot exceed total beds")
    # Only that field is marked wrong.
    expect(page.locator(".field-error")).to_have_count(1)

    # Nothing typed is lost.
    for name, value in typed.items():
        assert page.input_value(f"[name={name}]") == value, name
    assert page.input_value("select[name=ownership]") == "public"
    assert page.input_value("input[name=report_date]") == report_date

    assert count(app, Hospital) == 0
    assert count(app, Report) == 0
    assert_log_clean(live_server, since)


@pytest.mark.parametrize(
    ("path", "shot"),
    [
        ("/hospitals", "phone-hospitals.png"),
        ("/hospitals/new", "phone-new-hospital.png"),
        # Its report table holds visually hidden labels, absolutely positioned: unless the
        # table's box contains them, they widen the page (fixed in app.css's .table-wrap).
        ("/hospitals/{id}", "phone-detail.png"),
    ],
)
def test_page_fits_a_phone_screen(app, live_server, page, screenshots, path, shot):
    hospital_id = seed_hospitals(app)[1]
    page.set_viewport_size(PHONE)
    response = page.goto(path.format(id=hospital_id))
    assert response.status == 200
    page.screenshot(path=screenshots / shot, full_page=True)
    # Wide tables may scroll inside their own box; the page itself must not scroll sideways.
    scroll_width, inner_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert scroll_width <= inner_width + 1


def test_hospital_list_shows_every_hospital(app, live_server, page, screenshots):
    seed_hospitals(app)
    page.goto("/hospitals")
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(3)
    # Sorted by name, each with its code and its latest report's occupancy.
    expect(rows.nth(0)).to_contain_text("Eastbrook Health Clinic")
    expect(rows.nth(1)).to_contain_text("Northside Regional Hospital")
    expect(rows.nth(2)).to_contain_text("St Vincent's Community Hospital")
    expect(rows.nth(1)).to_contain_text("NRH-001")
    expect(rows.nth(1)).to_contain_text("75.0 %")
    page.screenshot(path=screenshots / "hospitals.png", full_page=True)


def test_pages_load_nothing_from_outside_the_machine(app, live_server, page):
    hospital_id = seed_hospitals(app)[0]
    requested: list[str] = []
    failed: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    def on_failed(request) -> None:
        # A request the browser itself cancels because the next page is already loading
        # (often the favicon) is not a failure of the server.
        if request.failure != "net::ERR_ABORTED":
            failed.append(f"{request.failure} {request.url}")

    page.on("requestfailed", on_failed)

    def on_response(response) -> None:
        if response.status >= 400:
            failed.append(f"{response.status} {response.url}")

    page.on("response", on_response)

    for path in ("/hospitals", "/hospitals/new", f"/hospitals/{hospital_id}", "/audit"):
        page.goto(path)
        page.wait_for_load_state("networkidle")

    assert f"{live_server.url}/static/css/app.css" in requested  # sub-resources are recorded
    outside = [url for url in requested if urlsplit(url).hostname != "127.0.0.1"]
    assert outside == []
    assert failed == []


def test_demo_data_in_the_list(app, live_server, page, screenshots):
    """The list as a coordinator sees it with seed-demo's data: the README's screenshot."""
    result = app.test_cli_runner().invoke(args=["seed-demo", "--hospitals", "12", "--days", "30"])
    assert result.exit_code == 0, result.output
    page.goto("/hospitals")
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(12)
    expect(page.locator(".pagination")).to_contain_text("Showing 1–12 of 12 hospitals")
    # seed-demo leaves a fifth of them (2 of 12) without today's report
    expect(page.locator("table.list tbody td", has_text=shown_day(today()))).to_have_count(10)
    page.screenshot(path=screenshots / "readme-hospitals.png", full_page=True)


def test_an_administrator_makes_an_editor_who_then_enters_a_report(
    app, live_server, page, browser, screenshots
):
    """The whole chain in the browser: an account made through the form, assigned to one
    hospital, signs in elsewhere and may add a report there and nowhere else."""
    since = live_server.log_offset()
    mine, other = seed_hospitals(app)[:2]
    page.goto("/accounts/new")
    page.get_by_label("Email").fill("Nora.Nurse@Example.org")
    page.get_by_label("Name").fill("Nora Nurse")
    page.get_by_label("Role").select_option("editor")
    # The hospitals are ticked by name; the search box narrows the list as one types.
    nrh = page.get_by_role("checkbox", name=re.compile(r"^NRH-001 — "))
    others = page.locator("#hospital_codes-choices li:not([hidden])")
    expect(others).to_have_count(3)  # every active hospital, without a search
    page.get_by_label("Find a hospital").fill("nrh")
    expect(others).to_have_count(1)
    expect(page.locator("#hospital_codes-shown")).to_have_text(
        "Showing 1 of 3 (ticked ones always shown)."
    )
    nrh.check()
    page.get_by_label("Find a hospital").fill("")
    page.locator("input[name=password]").fill("a long pass phrase")
    page.locator("input[name=confirm]").fill("a long pass phrase")
    page.screenshot(path=screenshots / "new-account.png", full_page=True)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator(".flash--success")).to_contain_text("Nora Nurse (nora.nurse@example.org)")
    page.screenshot(path=screenshots / "accounts.png", full_page=True)

    # A second person, in their own browser session.
    context = browser.new_context(base_url=live_server.url, viewport=DESKTOP)
    context.set_default_timeout(10_000)
    nora = context.new_page()
    try:
        sign_in(nora, "nora.nurse@example.org", "a long pass phrase")
        nora.goto(f"/hospitals/{mine}")
        expect(nora.get_by_role("link", name="Add report")).to_be_visible()
        nora.goto(f"/hospitals/{other}")
        expect(nora.get_by_role("link", name="Add report")).to_have_count(0)
        response = nora.goto(f"/hospitals/{other}/reports/new")
        assert response.status == 403
        expect(nora.locator("main")).to_contain_text("assigned to you")
        nora.screenshot(path=screenshots / "forbidden.png", full_page=True)
    finally:
        context.close()
    assert (
        count(app, Account, Account.email == "nora.nurse@example.org", Account.role == "editor")
        == 1
    )
    assert_log_clean(live_server, since)


# --- Layout: nothing a person needs is cut off ----------------------------------------------

# Where an element sits beside the boxes that could cut it off: its table cell and the
# scrolling box of its table (null when it has none), and how far that box scrolls sideways.
PLACED = """(el) => {
  const box = (node) => {
    if (!node) return null;
    const r = node.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom};
  };
  const wrap = el.closest('.table-wrap');
  return {
    own: box(el),
    cell: box(el.closest('td, th')),
    wrap: box(wrap),
    overflow: wrap ? wrap.scrollWidth - wrap.clientWidth : 0,
  };
}"""


def assert_not_cut_off(element, width: int) -> dict:
    """`element` lies inside the window's width, its table's box and its own cell."""
    place = element.evaluate(PLACED)
    own, what = place["own"], f"{element.inner_text()!r}: {place}"
    assert own["left"] >= 0 and own["right"] <= width, what
    for outer in (place["cell"], place["wrap"]):
        if outer is not None:
            assert outer["left"] <= own["left"] and own["right"] <= outer["right"], what
            assert outer["top"] <= own["top"] and own["bottom"] <= outer["bottom"], what
    return place


@pytest.mark.parametrize("width", [1280, 1600])
def test_the_hospital_page_shows_every_report_action_at_1280_and_wider(
    app, page, screenshots, width
):
    # Big figures, a confirmed unusual report with its long note, and notes: the widest rows.
    note = (
        "Admissions (1,480) is far from this hospital's last 30 reports (mean 310.2, usually "
        "180–440). Bed occupancy jumps from 42.0 % to 98.7 % (56.7 points) since the report "
        "of 2026-01-01."
    )
    reports = tuple(
        {
            "report_date": today() - timedelta(days=k),
            "beds_total": 12_500,
            "beds_occupied": 12_340,
            "icu_beds_total": 1_500,
            "icu_beds_occupied": 1_480,
            "ventilators_total": 1_200,
            "ventilators_in_use": 1_150,
            "admissions": 14_800,
            "discharges": 13_900,
            "deaths": 1_250,
            "notes": "Ward 7 closed for cleaning; figures phoned in by the night shift."
            if k % 2
            else None,
            **({"outlier_confirmed": True, "outlier_note": note} if k == 1 else {}),
        }
        for k in range(6)
    )
    hospital_id = make_hospital(
        app, reports=reports, code="SVC-014", name="St Vincent's Community Hospital"
    )
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"/hospitals/{hospital_id}")
    page.screenshot(path=screenshots / f"hospital-{width}.png", full_page=True)
    actions = page.locator("table.list td.row-actions a")
    expect(actions).to_have_count(6 * 3)
    for i in range(actions.count()):
        place = assert_not_cut_off(actions.nth(i), width)
        # Its table fits: the actions are not behind a sideways scroll either.
        assert place["overflow"] <= 0, f"the reports table scrolls sideways at {width} px"


# Each visible text of the page's charts: its size on screen, in CSS pixels (the SVG's own
# font size times the scale its viewBox is drawn at), and whether it lies inside its chart.
CHART_TEXTS = """() => [...document.querySelectorAll('svg.chart__svg text')]
  .filter((t) => t.getBoundingClientRect().width > 0)
  .map((t) => {
    const svg = t.ownerSVGElement, box = svg.getBoundingClientRect();
    const r = t.getBoundingClientRect();
    return {
      text: t.textContent,
      px: parseFloat(getComputedStyle(t).fontSize) * box.width / svg.viewBox.baseVal.width,
      inside: r.left >= box.left - 0.5 && r.right <= box.right + 0.5
        && r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5,
    };
  })"""


def test_the_dashboard_on_a_phone(app, page, screenshots):
    """At 390 × 844: the network's figures on the first screen, nothing cut off at the edge,
    chart text that can be read."""
    names = ("St Vincent's Community Hospital and Rehabilitation Centre", "Eastbrook Clinic")
    for n, region in enumerate(("North", "South-West Highlands", "East", "North")):
        make_hospital(
            app,
            reports=tuple(
                {"report_date": today() - timedelta(days=k), "beds_occupied": 100 + 20 * n}
                for k in range(0 if n < 2 else 1, 30)  # the first two reported today
            ),
            code=f"PH-{n:03d}",
            name=names[n - 2] if n >= 2 else f"{region} General",
            region=region,
        )
    page.set_viewport_size(PHONE)
    page.goto("/?days=30")
    page.screenshot(path=screenshots / "dashboard-phone.png", full_page=True)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]

    # The first screen holds the network figures: four, and the day's on-time share.
    figures = page.locator(".totals dd.figure")
    expect(figures).to_have_count(5)
    for i in range(5):
        box = figures.nth(i).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], box

    # Every "Enter report" link, and every table's first column, whole.
    enter = page.locator("a.enter-report")
    expect(enter).to_have_count(2)
    for i in range(2):
        assert_not_cut_off(enter.nth(i), PHONE["width"])
    first_cells = page.locator("table.list tr > :first-child")
    shown = [first_cells.nth(i) for i in range(first_cells.count())]
    shown = [cell for cell in shown if cell.is_visible()]
    assert len(shown) >= 8  # the regions (5 rows with heads) and the missing (3)
    for cell in shown:
        for part in (cell.locator("a"), cell):
            if part.count():
                assert_not_cut_off(part.first, PHONE["width"])

    # Chart text at least 12 CSS pixels, inside its chart; the legends too.
    texts = page.evaluate(CHART_TEXTS)
    assert len(texts) > 10
    small = [t for t in texts if t["px"] < 12 or not t["inside"]]
    assert small == [], small
    legends = page.locator(".chart__legend li")
    assert legends.count() >= 2 + 2 * 3
    for i in range(legends.count()):
        size = legends.nth(i).evaluate("(el) => parseFloat(getComputedStyle(el).fontSize)")
        assert legends.nth(i).is_visible() and size >= 12
