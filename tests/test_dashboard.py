"""The dashboard (GET /) and its full lists: every figure is checked against sums the test
makes itself from the rows it inserted; the charts are parsed as XML and their points
counted."""

from __future__ import annotations

import html as entities
import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
from helpers import (
    ADMIN_EMAIL,
    count_queries,
    csrf_token,
    make_hospital,
    make_user,
    page_text,
    report_form,
    signed_in_client,
    today,
    yesterday,
)
from sqlalchemy import delete, select

from hospital_app.extensions import db
from hospital_app.models import AuditEntry, Report
from hospital_app.templating import day as fmt_day

SVG = "{http://www.w3.org/2000/svg}"
D = today() - timedelta(days=3)  # the day the tests look at
FIELDS = (
    "beds_total",
    "beds_occupied",
    "icu_beds_total",
    "icu_beds_occupied",
    "ventilators_total",
    "ventilators_in_use",
)


def counts(beds, occupied, icu, icu_occupied, vents, in_use, **more) -> dict:
    return dict(zip(FIELDS, (beds, occupied, icu, icu_occupied, vents, in_use), strict=True)) | more


# name: (region, active, {date: counts}). Bravo sits exactly at 90.0 %; Charlie has no beds;
# Echo has not reported for D; Foxtrot is archived and must count nowhere.
WORLD = {
    "Alpha": (
        "North",
        True,
        {D: counts(200, 150, 20, 12, 15, 6), D - timedelta(1): counts(200, 180, 20, 18, 15, 9)},
    ),
    "Bravo": ("North", True, {D: counts(100, 90, 10, 5, 8, 2)}),
    "Charlie": ("South", True, {D: counts(0, 0, 0, 0, 0, 0)}),
    "Delta": (
        "South",
        True,
        {
            D: counts(300, 120, 30, 28, 20, 10, outlier_confirmed=True, outlier_note="Flu wave"),
            D - timedelta(3): counts(300, 150, 30, 10, 20, 5),
        },
    ),
    "Echo": (
        "South",
        True,
        {
            D - timedelta(3): counts(50, 25, 5, 1, 4, 1),
            D - timedelta(40): counts(
                50, 49, 5, 5, 4, 4, outlier_confirmed=True, outlier_note="Too old to list"
            ),
        },
    ),
    "Foxtrot": (
        "North",
        False,
        {D: counts(500, 499, 50, 50, 40, 40, outlier_confirmed=True, outlier_note="Archived one")},
    ),
}


@pytest.fixture
def world(app) -> dict[str, int]:
    ids = {}
    for n, (name, (region, active, reports)) in enumerate(WORLD.items()):
        ids[name] = make_hospital(
            app,
            reports=tuple({"report_date": d, **r} for d, r in reports.items()),
            code=f"H-{n}",
            name=name,
            region=region,
            is_active=active,
        )
    return ids


def expected(day: date, region: str | None = None) -> dict:
    """The sums of `day`'s reports of active hospitals (of `region`), made here."""
    rows = [
        r
        for reg, active, reports in WORLD.values()
        if active and region in (None, reg)
        for d, r in reports.items()
        if d == day
    ]
    sums = {f: sum(r[f] for r in rows) for f in FIELDS}
    hospitals = sum(1 for reg, active, _ in WORLD.values() if active and region in (None, reg))
    return {**sums, "reported": len(rows), "hospitals": hospitals}


def pct(part: int, whole: int) -> str:
    return "—" if not whole else f"{100 * part / whole:.1f} %"


def svgs(html: str) -> dict[str, ET.Element]:
    """Each chart of the page, parsed as XML (it fails on anything not well-formed), by id."""
    charts = {}
    # The charts, not the small swatches of their HTML legends.
    for text in re.findall(r'<svg\b[^>]*class="chart__svg".*?</svg>', html, flags=re.S):
        root = ET.fromstring(text)  # noqa: S314 -- our own page, in a test
        charts[root.get("aria-labelledby").split()[0].removesuffix("-title")] = root
    return charts


def series_points(root: ET.Element) -> dict[str, tuple[int, int, list[int]]]:
    """{series: (points drawn, lone dots, points per line)}."""
    out = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") != "series":
            continue
        lines = [len(p.get("points").split()) for p in g.iter(f"{SVG}polyline")]
        dots = len(list(g.iter(f"{SVG}circle")))
        out[g.get("data-series")] = (sum(lines) + dots, dots, lines)
    return out


# --- Totals ----------------------------------------------------------------------------------


def test_network_totals_are_sums_of_active_hospitals_reports(client, world):
    response = client.get(f"/?date={D.isoformat()}")
    assert response.status_code == 200
    text = page_text(response)
    e = expected(D)
    assert e["reported"] == 4 and e["hospitals"] == 5  # the world is what the test means
    assert f"Bed occupancy {pct(e['beds_occupied'], e['beds_total'])}" in text
    assert f"{e['beds_occupied']:,} of {e['beds_total']:,} beds occupied" in text
    assert f"ICU occupancy {pct(e['icu_beds_occupied'], e['icu_beds_total'])}" in text
    assert f"{e['icu_beds_occupied']:,} of {e['icu_beds_total']:,} ICU beds occupied" in text
    assert f"Ventilators in use {e['ventilators_in_use']:,} of {e['ventilators_total']:,}" in text
    assert f"{e['reported']} of {e['hospitals']} active hospitals" in text
    # The archived hospital's report of that day is left out, and the page says so.
    assert "1 report of that day from hospitals archived since is not counted" in text
    assert "499" not in text
    # A sum over sums, not the mean of the hospitals' own percentages.
    mean_of_percentages = (75 + 90 + 40) / 3
    assert f"{mean_of_percentages:.1f} %" not in text


def test_region_rows_and_the_network_row(client, world):
    text = page_text(client.get(f"/?date={D.isoformat()}"))
    for label, region in (("North", "North"), ("South", "South"), ("Network", None)):
        e = expected(D, region)
        row = (
            f"{label} {e['reported']} of {e['hospitals']} "
            f"{e['beds_occupied']:,} / {e['beds_total']:,} "
            f"{pct(e['beds_occupied'], e['beds_total'])} "
            f"{e['icu_beds_occupied']:,} / {e['icu_beds_total']:,} "
            f"{pct(e['icu_beds_occupied'], e['icu_beds_total'])} "
            f"{e['ventilators_in_use']:,} / {e['ventilators_total']:,}"
        )
        assert row in text


def test_thousands_separators(app, client):
    make_hospital(
        app,
        reports=({"report_date": D, **counts(12_345, 11_111, 2_000, 1_500, 1_200, 1_001)},),
    )
    text = page_text(client.get(f"/?date={D.isoformat()}"))
    assert "11,111 of 12,345 beds occupied" in text
    assert f"Bed occupancy {100 * 11111 / 12345:.1f} %" in text
    assert "Ventilators in use 1,001 of 1,200" in text


# --- Completeness ----------------------------------------------------------------------------


def test_completeness_counts_and_lists_who_did_not_report(client, world):
    text = page_text(client.get(f"/?date={D.isoformat()}"))
    assert f"4 of 5 active hospitals reported for {fmt_day(D)} (80.0 %). 1 has not:" in text
    section = text.split("Reporting completeness", 1)[1].split("Hospitals under pressure", 1)[0]
    assert "Echo" in section
    for name in ("Alpha", "Bravo", "Charlie", "Delta", "Foxtrot"):
        assert name not in section


def test_a_long_missing_list_is_capped_with_a_link_to_all_of_it(app, client):
    for n in range(23):
        make_hospital(app, reports=(), code=f"M-{n:02d}", name=f"Missing {n:02d}")
    html = client.get(f"/?date={D.isoformat()}").get_data(as_text=True)
    assert html.count('class="missing"') == 20
    text = page_text_of(html)
    assert "23 have not; the first 20 by name:" in text
    link = re.search(r'href="(/dashboard/missing\?[^"]+)"', html).group(1).replace("&amp;", "&")
    assert f"date={D.isoformat()}" in link
    first = client.get(link)
    assert first.status_code == 200
    assert "Showing 1–5 of 23 hospitals" in page_text(first)
    last = client.get(link + "&page=5")
    assert "Showing 21–23 of 23 hospitals" in page_text(last)
    assert "Missing 22" in page_text(last)


def page_text_of(html: str) -> str:
    import html as h

    return " ".join(h.unescape(re.sub(r"<[^>]+>", " ", html)).split())


# --- Who sees which links --------------------------------------------------------------------


def enter_links(response) -> set[int]:
    html = response.get_data(as_text=True)
    return {
        int(i)
        for i in re.findall(
            r'class="enter-report" href="/hospitals/(\d+)/reports/new\?date=[0-9-]+"', html
        )
    }


def test_viewer_sees_no_enter_report_links(login_as, world):
    response = login_as("viewer").get(f"/?date={D.isoformat()}")
    assert response.status_code == 200
    assert "Echo" in page_text(response)
    assert enter_links(response) == set()
    assert "/reports/new" not in response.get_data(as_text=True)


def test_editor_sees_enter_links_only_for_their_hospitals(app, login_as, world):
    golf = make_hospital(app, reports=(), code="H-G", name="Golf", region="North")
    editor = login_as("editor", hospitals=(world["Echo"], world["Alpha"]))
    response = editor.get(f"/?date={D.isoformat()}")
    text = page_text(response)
    assert "Golf" in text and "Echo" in text  # both still to report
    assert enter_links(response) == {world["Echo"]}  # Alpha reported; Golf is not theirs
    assert f"/hospitals/{golf}/reports/new" not in response.get_data(as_text=True)


def test_admin_sees_enter_links_for_every_missing_hospital(client, world):
    assert enter_links(client.get(f"/?date={D.isoformat()}")) == {world["Echo"]}


def test_an_editors_own_hospitals_come_first_in_a_long_missing_list(app, login_as):
    ids = [make_hospital(app, reports=(), code=f"M-{n:02d}", name=f"A{n:02d}") for n in range(25)]
    mine = make_hospital(app, reports=(), code="Z-1", name="Zulu")  # last by name
    response = login_as("editor", hospitals=(mine,)).get(f"/?date={D.isoformat()}")
    assert enter_links(response) == {mine}
    assert "Zulu" in page_text(response)
    assert f"/hospitals/{ids[-1]}" not in response.get_data(as_text=True)  # 26 > 20 shown


def test_anonymous_is_sent_to_sign_in(anon):
    for url in ("/", "/dashboard/missing", "/dashboard/pressure", "/dashboard/outliers"):
        response = anon.get(url)
        assert response.status_code in (302, 303)
        assert "/login" in response.headers["Location"]


# --- Pressure --------------------------------------------------------------------------------


def pressure_names(response) -> list[str]:
    html = response.get_data(as_text=True)
    return re.findall(r'<tr class="pressure">\s*<td><a href="[^"]+">([^<]+)</a>', html)


def test_pressure_threshold_is_inclusive_and_fullest_first(client, world):
    # Delta: ICU 28/30 = 93.3 %; Bravo: beds 90/100 = 90.0 %, exactly the default threshold.
    response = client.get(f"/?date={D.isoformat()}")
    assert pressure_names(response) == ["Delta", "Bravo"]
    assert "at or above 90 % on" in page_text(response)
    assert pressure_names(client.get(f"/?date={D.isoformat()}&threshold=90.1")) == ["Delta"]
    assert pressure_names(client.get(f"/?date={D.isoformat()}&threshold=93.3")) == ["Delta"]
    assert pressure_names(client.get(f"/?date={D.isoformat()}&threshold=93.4")) == []
    # 0 %: every hospital with beds, fullest first (Alpha's 75 % beds over its 60 % ICU);
    # Charlie, with no beds, has no occupancy to be under pressure with.
    everyone = client.get(f"/?date={D.isoformat()}&threshold=0")
    assert pressure_names(everyone) == ["Delta", "Bravo", "Alpha"]


def test_pressure_marks_the_figure_at_the_threshold(client, world):
    html = client.get(f"/?date={D.isoformat()}").get_data(as_text=True)
    assert '<strong class="over">90.0 %</strong>' in html  # Bravo's beds
    assert f'<strong class="over">{100 * 28 / 30:.1f} %</strong>' in html  # Delta's ICU
    assert html.count('class="over"') == 2


def test_pressure_figures_keep_a_space_before_their_fraction(client, world):
    # page_text puts a space at every tag; what a person sees is the raw HTML's text, less
    # what only a screen reader hears.
    html = client.get(f"/?date={D.isoformat()}").get_data(as_text=True)
    section = html.split('id="pressure-title"', 1)[1].split('id="outliers-title"', 1)[0]
    seen = re.sub(r'<span class="visually-hidden">[^<]*</span>', "", section)
    read = " ".join(re.sub(r"<[^>]+>", "", seen).split())
    assert "90.0 % (90/100)" in read  # Bravo's beds, at the threshold
    assert f"{100 * 28 / 30:.1f} % (28/30)" in read  # Delta's ICU
    assert "%(" not in read


def test_pressure_empty_state(client, world):
    text = page_text(client.get(f"/?date={D.isoformat()}&threshold=99"))
    assert "0 hospitals" in text
    assert "No hospital that reported is at or above 99 %" in text


# --- Outliers --------------------------------------------------------------------------------


def test_confirmed_outliers_of_the_last_31_days_of_active_hospitals(client, world):
    response = client.get(f"/?date={D.isoformat()}")
    html = response.get_data(as_text=True)
    text = page_text(response)
    assert "Flu wave" in text
    assert "Too old to list" not in text  # 40 days before
    assert "Archived one" not in text
    assert html.count('class="outlier"') == 1
    assert re.search(r'href="/reports/\d+/edit">Check report', html)
    # 40 days later than D - 40 it is listed.
    later = page_text(client.get(f"/?date={(D - timedelta(days=20)).isoformat()}"))
    assert "Too old to list" in later and "Flu wave" not in later


def steady_hospital(app, n: int) -> int:
    """A hospital with 30 days of 30 admissions to yesterday: 300 on a new report is unusual."""
    return make_hospital(
        app,
        reports=tuple(
            {"report_date": yesterday() - timedelta(days=k), "admissions": 30} for k in range(1, 31)
        ),
        code=f"ST-{n:02d}",
        name=f"Steady {n:02d}",
    )


def confirmed_by_column(response) -> dict[str, str]:
    """{hospital: who confirmed} from the dashboard's list of confirmed unusual reports."""
    html = response.get_data(as_text=True)
    shown = {}
    for row in re.findall(r'<tr class="outlier">(.*?)</tr>', html, flags=re.S):
        hospital = re.search(r'">([^<]+)</a></td>', row).group(1)
        cell = re.search(r'<td class="confirmed-by">(.*?)</td>', row, flags=re.S).group(1)
        shown[entities.unescape(hospital)] = entities.unescape(cell.strip())
    return shown


def test_confirmed_outliers_say_who_confirmed_them(app, client, login_as):
    hospital_id = steady_hospital(app, 1)
    data = report_form(
        csrf_token(client), admissions=300, confirm_outlier="y", follow_up_reason="surge"
    )
    assert client.post(f"/hospitals/{hospital_id}/reports/new", data=data).status_code == 303
    with app.app_context():
        report_id = db.session.scalar(select(Report.id).where(Report.report_date == yesterday()))
    # Saved again by an editor, still confirmed: the confirmation stays the administrator's.
    editor = login_as("editor", hospitals=(hospital_id,))
    token = csrf_token(editor, f"/reports/{report_id}/edit")
    data = report_form(
        token, admissions=300, confirm_outlier="y", follow_up_reason="surge", notes="Seen"
    )
    assert editor.post(f"/reports/{report_id}/edit", data=data).status_code == 303
    # One written around the trail says nobody.
    untraced = make_hospital(
        app,
        reports=({"report_date": D, "outlier_confirmed": True, "outlier_note": "Old"},),
        code="OLD-1",
        name="Untraced",
    )
    with app.app_context():
        db.session.execute(delete(AuditEntry).where(AuditEntry.hospital_id == untraced))
        db.session.commit()
    for url in ("/", "/dashboard/outliers"):
        shown = confirmed_by_column(client.get(url))
        assert shown == {"Steady 01": f"Ada Admin <{ADMIN_EMAIL}>", "Untraced": "—"}


def test_who_confirmed_is_one_query_for_the_list(app, client):
    csrf = csrf_token(client)

    def confirm(n):
        hospital_id = steady_hospital(app, n)
        data = report_form(csrf, admissions=300, confirm_outlier="y", follow_up_reason="surge")
        assert client.post(f"/hospitals/{hospital_id}/reports/new", data=data).status_code == 303

    with count_queries(app) as none:
        assert confirmed_by_column(client.get("/")) == {}
    confirm(1)
    with count_queries(app) as few:
        assert len(confirmed_by_column(client.get("/"))) == 1
    for n in range(2, 8):
        confirm(n)
    with count_queries(app) as many:
        shown = confirmed_by_column(client.get("/"))
    assert len(shown) == 7 and set(shown.values()) == {f"Ada Admin <{ADMIN_EMAIL}>"}
    assert len(none) == len(few) == len(many), "\n".join(many)


def test_outliers_link_to_the_hospital_for_a_viewer(login_as, world):
    html = login_as("viewer").get(f"/?date={D.isoformat()}").get_data(as_text=True)
    assert "/edit" not in html
    assert f'href="/hospitals/{world["Delta"]}">Open hospital' in html


def test_full_lists_of_pressure_and_outliers(client, world):
    pressure = client.get(f"/dashboard/pressure?date={D.isoformat()}&threshold=0")
    assert pressure.status_code == 200
    assert pressure_names(pressure) == ["Delta", "Bravo", "Alpha"]
    outliers = client.get(f"/dashboard/outliers?date={D.isoformat()}")
    assert outliers.status_code == 200
    assert "Flu wave" in page_text(outliers)


# --- Bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date=2024-13-01", "“2024-13-01” is not a date"),
        ("date=yesterday", "“yesterday” is not a date"),
        ("date=" + (today() + timedelta(days=400)).isoformat(), "cannot be in the future"),
        # A year of trends before it would leave the calendar (it was a 500).
        ("date=0001-01-01", "The date cannot be before 1 Jan 2000."),
        ("date=1999-12-31&days=365", "cannot be before 1 Jan 2000"),
        ("threshold=abc", "“abc” is not a number"),
        ("threshold=NaN", "“NaN” is not a number"),
        ("threshold=Infinity", "“Infinity” is not a number"),
        ("threshold=-1", "Enter a percentage from 0 to 100, not -1"),
        ("threshold=100.5", "Enter a percentage from 0 to 100, not 100.5"),
        ("threshold=90.55", "Use at most one decimal"),
        ("days=7", "“7” is not one of the choices"),
        ("days=", "“” is not one of the choices"),
        ("page=0", "Page numbers start at 1"),
    ],
)
@pytest.mark.parametrize(
    "path", ["/", "/dashboard/missing", "/dashboard/pressure", "/dashboard/outliers"]
)
def test_bad_arguments_get_a_400_with_the_reason(client, world, path, query, message):
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400
    text = page_text(response)
    assert "These filters cannot be used" in text
    assert message in text


def test_good_variants_are_accepted(client, world):
    for query in ("date=", "threshold=", "threshold=85%", "threshold=92.5", "days=365"):
        assert client.get(f"/?{query}").status_code == 200, query


# --- Empty states ----------------------------------------------------------------------------


def test_empty_database(client):
    response = client.get("/")
    assert response.status_code == 200
    text = page_text(response)
    assert "No active hospitals yet" in text
    assert "Register the first hospital" in text


def test_a_day_without_reports_says_so_and_offers_to_enter_one(client, world):
    empty_day = D - timedelta(days=10)
    text = page_text(client.get(f"/?date={empty_day.isoformat()}"))
    assert f"No reports for {fmt_day(empty_day)} yet." in text
    assert "enter the report of Alpha" in text  # the first by name the admin may enter
    assert "0 of 5 active hospitals reported" in text


def test_a_day_without_reports_for_a_viewer(login_as, world):
    text = page_text(login_as("viewer").get(f"/?date={(D - timedelta(days=10)).isoformat()}"))
    assert "Editors and administrators enter them" in text


def test_default_date_is_today(client, world):
    text = page_text(client.get("/"))
    assert f"The network on {fmt_day(today())} (today)" in text


# --- Charts ----------------------------------------------------------------------------------


def test_network_chart_points_gaps_and_table(client, world):
    html = client.get(f"/?date={D.isoformat()}&days=30").get_data(as_text=True)
    charts = svgs(html)
    assert set(charts) == {"chart-network", "chart-regions-beds", "chart-regions-icu"}
    network = charts["chart-network"]
    assert network.get("data-days") == "30"
    # Days with reports of active hospitals: D - 3, D - 1, D. D - 2 is a gap: D - 3 stands
    # alone (a dot), D - 1 and D make one line.
    assert series_points(network) == {
        "Bed occupancy": (3, 1, [2]),
        "ICU occupancy": (3, 1, [2]),
    }
    text = page_text_of(html)
    d1 = expected(D - timedelta(1))
    assert (
        f"{fmt_day(D - timedelta(1))} {pct(d1['beds_occupied'], d1['beds_total'])} "
        f"{pct(d1['icu_beds_occupied'], d1['icu_beds_total'])} 1"
    ) in text
    assert f"{fmt_day(D - timedelta(2))} — — —" in text  # a gap is a dash, not 0
    d3 = expected(D - timedelta(3))
    assert f"{fmt_day(D - timedelta(3))} {pct(d3['beds_occupied'], d3['beds_total'])}" in text


def test_region_charts_have_a_series_per_region(client, world):
    charts = svgs(client.get(f"/?date={D.isoformat()}&days=90").get_data(as_text=True))
    beds = series_points(charts["chart-regions-beds"])
    # North: D - 1 and D (the archived Foxtrot adds nothing). South: D - 40, D - 3 and D,
    # each alone; on D South's beds are 420 with Charlie's 0 counted in the sums.
    assert beds == {"North": (2, 0, [2]), "South": (3, 3, [])}
    assert charts["chart-regions-icu"].get("data-days") == "90"


def test_period_choice_sets_the_number_of_days(client, world):
    for days in (30, 90, 365):
        charts = svgs(client.get(f"/?date={D.isoformat()}&days={days}").get_data(as_text=True))
        assert {c.get("data-days") for c in charts.values()} == {str(days)}


def test_hospital_page_has_its_occupancy_chart(client, world):
    response = client.get(f"/hospitals/{world['Alpha']}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    chart = svgs(html)["chart-hospital"]
    assert series_points(chart) == {"Bed occupancy": (2, 0, [2]), "ICU occupancy": (2, 0, [2])}
    text = page_text(response)
    assert f"{fmt_day(D)} 75.0 % 60.0 %" in text  # the chart's table: 150/200, 12/20
    assert html.index("chart-hospital") < html.index('id="history"')


def test_hospital_page_without_recent_reports(app, client):
    hospital = make_hospital(app, reports=({"report_date": D - timedelta(days=200)},))
    text = page_text(client.get(f"/hospitals/{hospital}"))
    assert "No reports in the last 90 days" in text


def test_no_style_attributes_anywhere(client, world):
    for url in (
        f"/?date={D.isoformat()}&days=365",
        "/?date=nonsense",
        f"/dashboard/missing?date={D.isoformat()}",
        f"/hospitals/{world['Delta']}",
    ):
        html = client.get(url).get_data(as_text=True)
        assert not re.search(r"\sstyle\s*=", html), url
        assert "<script" not in html and "<style" not in html


# --- A fixed number of queries ---------------------------------------------------------------


def build(app, prefix: str, hospitals: int, days: int) -> list[int]:
    """`hospitals` hospitals in 4 regions (the second archived), each with `days` days of
    reports but one: gaps and missing hospitals too."""
    return [
        make_hospital(
            app,
            reports=tuple({"report_date": D - timedelta(days=k)} for k in range(days) if k != n),
            code=f"{prefix}-{n:03d}",
            name=f"Hospital {prefix}{n:03d}",
            region=f"Region {n % 4}",
            is_active=n != 1,
        )
        for n in range(hospitals)
    ]


@pytest.mark.parametrize("role", ["admin", "editor"])
def test_queries_do_not_grow_with_hospitals_or_days(app, login_as, role):
    ids = build(app, "A", 2, 3)
    browser = login_as(role, hospitals=ids[:1] if role == "editor" else ())
    url = f"/?date={D.isoformat()}&days=90&threshold=0"
    with count_queries(app) as few:
        assert browser.get(url).status_code == 200
    build(app, "B", 20, 40)
    with count_queries(app) as many:
        response = browser.get(url)
    assert response.status_code == 200
    # 13 for an editor: the signed-off reports of their hospitals, read once (policy.py).
    assert len(many) == len(few) <= 13, "\n".join(many)
    # The big world was really drawn: 22 hospitals, less the 2 archived and the 2 with no
    # report on D, all at 75 % (above a 0 % threshold); the dashboard shows up to 20.
    assert len(pressure_names(response)) == 18


def test_full_list_queries_are_fixed(app, client):
    build(app, "A", 2, 3)
    with count_queries(app) as few:
        client.get(f"/dashboard/missing?date={D.isoformat()}")
    build(app, "B", 20, 40)
    with count_queries(app) as many:
        client.get(f"/dashboard/missing?date={D.isoformat()}")
    assert len(many) == len(few)


# --- The header ------------------------------------------------------------------------------


def header_name(response) -> str:
    html = response.get_data(as_text=True)
    match = re.search(r'<span class="account__name">(.*?)</span>\s*<a', html, flags=re.S)
    assert match, "no account name in the header"
    return " ".join(re.sub(r"<[^>]+>", "", match.group(1)).split())


@pytest.mark.parametrize(
    ("name", "role", "shown"),
    [
        ("Administrator", "admin", "Administrator"),
        ("editor", "editor", "editor"),
        ("Eddie Editor", "editor", "Eddie Editor (Editor)"),
        ("Ada Admin", "admin", "Ada Admin (Administrator)"),
    ],
)
def test_the_header_names_the_person_once(app, name, role, shown):
    make_user(app, role, email="someone@example.org", name=name)
    assert header_name(signed_in_client(app, "someone@example.org").get("/")) == shown


def network_day(client, day: date) -> str:
    """The network chart's table cell of bed occupancy for `day`, as the page shows it."""
    html = client.get(f"/?date={D.isoformat()}&days=30").get_data(as_text=True)
    table = html[html.index('aria-label="Network occupancy') :]
    row = re.search(rf'<th scope="row">{fmt_day(day)}</th><td class="num">([^<]+)</td>', table)
    return entities.unescape(row.group(1))


def test_the_charts_follow_every_change_the_next_request(client, world, csrf):
    """Each worker keeps the charts it drew (dashboard.queries.trends) while nothing in their
    days changed: a change through the app is on the next page."""
    assert network_day(client, D) == "60.0 %"  # (150 + 90 + 0 + 120) / (200 + 100 + 0 + 300)
    assert network_day(client, D) == "60.0 %"  # drawn once, shown again
    client.post(f"/hospitals/{world['Bravo']}/archive", data={"csrf_token": csrf})
    assert network_day(client, D) == "54.0 %"  # Bravo left out: 270 / 500
    client.post(f"/hospitals/{world['Bravo']}/restore", data={"csrf_token": csrf})
    assert network_day(client, D) == "60.0 %"
    with client.application.app_context():
        report = db.session.scalar(
            select(Report).where(Report.hospital_id == world["Alpha"], Report.report_date == D)
        )
        report.beds_occupied = 200  # through the session, as every form saves
        db.session.commit()
    assert network_day(client, D) == "68.3 %"  # (200 + 90 + 0 + 120) / 600
