"""What the tests share besides fixtures: the test app's settings, apps and signed-in clients,
the values of a valid hospital and report and the forms that post them, factories that write
rows straight to the database, and small readers of the database and of pages.

Test files import these from here (`from helpers import …`); conftest.py holds the fixtures
alone."""

from __future__ import annotations

import html
import re
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, event, func, select

from hospital_app import create_app
from hospital_app.auth.passwords import hash_password
from hospital_app.extensions import db
from hospital_app.models import (
    Account,
    AccountRegion,
    AuditEntry,
    ClosingException,
    Hospital,
    HospitalWeek,
    RegionDay,
    Reminder,
    Report,
    ReportingSettings,
    SignInCounter,
    hospital_editors,
)

TEST_SECRET = "test-secret-key-not-for-production"
PASSWORD = "correct horse battery staple"
ADMIN_EMAIL = "admin@example.org"
# A fast hash keeps the hundreds of sign-ins of the suite quick; test_auth checks that the
# configured default is scrypt.
FAST_HASH = "pbkdf2:sha256:1000"
# The test app's time zone, whatever TIMEZONE the developer's environment holds: "today" in
# the app and in the tests (today() below) is the same day.
TIMEZONE = "UTC"


# --- The app ---------------------------------------------------------------------------------


def make_app(url: str, **config):
    return create_app(
        {
            "APP_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": TEST_SECRET,
            "PER_PAGE": 5,
            "PASSWORD_HASH_METHOD": FAST_HASH,
            "TIMEZONE": TIMEZONE,
            **config,
        }
    )


def empty_tables(app) -> None:
    with app.app_context():
        for table in (
            Reminder.__table__,
            ClosingException.__table__,
            # Without a row, the reporting cycle's defaults apply (cycle.settings()).
            ReportingSettings.__table__,
            hospital_editors,
            AccountRegion.__table__,
            AuditEntry.__table__,
            SignInCounter.__table__,
            RegionDay.__table__,
            HospitalWeek.__table__,
            Report.__table__,
            Hospital.__table__,
            Account.__table__,
        ):
            db.session.execute(delete(table))
        db.session.commit()


@contextmanager
def fresh_app(url: str, **config):
    """An app on the emptied test database; its connections are closed afterwards."""
    app = make_app(url, **config)
    empty_tables(app)
    yield app
    with app.app_context():
        db.engine.dispose()


# --- Accounts and signing in -----------------------------------------------------------------


def make_user(
    app,
    role: str = "admin",
    email: str | None = None,
    password: str = PASSWORD,
    hospitals: tuple[int, ...] = (),
    active: bool = True,
    name: str | None = None,
    regions: tuple[str, ...] = (),
    all_regions: bool = False,
) -> int:
    """An account written straight to the database; its id. A reviewer's `regions` (or
    `all_regions`)."""
    with app.app_context():
        user = Account(
            email=email or f"{role}@example.org",
            display_name=name or f"{role.title()} Person",
            password_hash=hash_password(password),
            role=role,
            is_active=active,
        )
        user.hospitals = [db.session.get(Hospital, h) for h in hospitals]
        user.all_regions = all_regions
        user.region_rows = [AccountRegion(region=r) for r in regions]
        db.session.add(user)
        db.session.commit()
        return user.id


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def login(client, email: str, password: str = PASSWORD):
    """Sign in through the real form, as a person would; the response."""
    match = CSRF_RE.search(client.get("/login").get_data(as_text=True))
    assert match, "no CSRF token on /login"
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": match.group(1)}
    )


def signed_in_client(app, email: str, password: str = PASSWORD):
    client = app.test_client()
    response = login(client, email, password)
    assert response.status_code == 303, f"sign-in as {email} failed: {response.status_code}"
    return client


def csrf_token(client, url: str = "/hospitals/new") -> str:
    """The CSRF token, read from a form page as a browser would (CSRF stays on in tests)."""
    match = CSRF_RE.search(client.get(url).get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    return match.group(1)


# --- Days ------------------------------------------------------------------------------------


def today() -> date:
    """The app's today: the date now in the test app's time zone (not the server's)."""
    return datetime.now(ZoneInfo(TIMEZONE)).date()


def yesterday() -> date:
    return today() - timedelta(days=1)


def shown(day: date) -> str:
    """A date as every page and message shows it to people: 28 Nov 2026."""
    return f"{day.day} {day:%b %Y}"


# --- Values and forms ------------------------------------------------------------------------


def report_values(**overrides) -> dict:
    values = {
        "report_date": yesterday(),
        "beds_total": 200,
        "beds_occupied": 150,
        "icu_beds_total": 20,
        "icu_beds_occupied": 12,
        "ventilators_total": 15,
        "ventilators_in_use": 6,
        "admissions": 30,
        "discharges": 25,
        "deaths": 1,
        "notes": None,
    }
    values.update(overrides)
    return values


def hospital_values(**overrides) -> dict:
    values = {
        "code": "NRH-001",
        "name": "Northside Regional Hospital",
        "region": "North",
        "city": "Ashford",
        "ownership": "public",
    }
    values.update(overrides)
    return values


def form_data(values: dict) -> dict:
    """Values as a browser would post them: strings, empty for None."""
    return {
        k: ("" if v is None else v.isoformat() if isinstance(v, date) else str(v))
        for k, v in values.items()
    }


def hospital_form(csrf: str, **overrides) -> dict:
    """The hospital edit form as a browser posts it."""
    return {**form_data(hospital_values(**overrides)), "csrf_token": csrf}


def report_form(csrf: str, **overrides) -> dict:
    """The report form as a browser posts it."""
    return {**form_data(report_values(**overrides)), "csrf_token": csrf}


def new_hospital_form(csrf: str, **overrides) -> dict:
    hospital = {k: overrides.pop(k) for k in list(overrides) if k in hospital_values()}
    return {
        **form_data(hospital_values(**hospital)),
        **form_data(report_values(**overrides)),
        "csrf_token": csrf,
    }


# Every rule of a report: the values that break it, the field blamed, the message. The report
# form's tests (test_reports) and the CSV import's (test_import) both go through them all.
BAD_REPORTS = [
    ({"beds_total": -1}, "beds_total", "from 0 to 100,000"),
    ({"beds_total": 100_001, "beds_occupied": 5}, "beds_total", "from 0 to 100,000"),
    ({"admissions": 100_001}, "admissions", "from 0 to 100,000"),
    ({"discharges": -5}, "discharges", "from 0 to 100,000"),
    ({"deaths": 100_001}, "deaths", "from 0 to 100,000"),
    ({"ventilators_total": -1, "ventilators_in_use": 0}, "ventilators_total", "from 0 to 100,000"),
    (
        {"beds_occupied": 201},
        "beds_occupied",
        "Occupied beds (201) cannot exceed total beds (200).",
    ),
    (
        {"icu_beds_total": 201, "icu_beds_occupied": 0},
        "icu_beds_total",
        "ICU beds (201) cannot exceed total beds (200).",
    ),
    (
        {"icu_beds_occupied": 21},
        "icu_beds_occupied",
        "Occupied ICU beds (21) cannot exceed total ICU beds (20).",
    ),
    (
        {"beds_occupied": 10, "icu_beds_occupied": 11},
        "icu_beds_occupied",
        "cannot exceed occupied beds (10)",
    ),
    (
        {"ventilators_in_use": 16},
        "ventilators_in_use",
        "Ventilators in use (16) cannot exceed total ventilators (15).",
    ),
    ({"beds_total": "12.5"}, "beds_total", "must be a whole number"),
    ({"beds_total": "lots"}, "beds_total", "must be a whole number"),
    ({"beds_total": "1,5"}, "beds_total", "must be a whole number"),
    ({"beds_total": "2_00"}, "beds_total", "must be a whole number"),
    ({"beds_total": "+200"}, "beds_total", "must be a whole number"),
    ({"beds_total": "٢٠٠"}, "beds_total", "must be a whole number"),
    ({"beds_total": ""}, "beds_total", "Enter a number, 0 if there are none."),
    ({"deaths": None}, "deaths", "Enter a number, 0 if there are none."),
    ({"report_date": ""}, "report_date", "Enter the date the figures are for."),
    ({"report_date": "2026-02-30"}, "report_date", "“2026-02-30” is not a date"),
    ({"report_date": "yesterday"}, "report_date", "“yesterday” is not a date"),
    ({"report_date": today() + timedelta(days=1)}, "report_date", "cannot be in the future"),
    ({"report_date": date(1999, 12, 31)}, "report_date", "cannot be before 1 Jan 2000"),
    ({"notes": "n" * 2001}, "notes", "Keep notes to 2,000 characters."),
]


# --- Rows written straight to the database ---------------------------------------------------


def make_hospital(app, reports: tuple[dict, ...] = ({},), **overrides) -> int:
    """A hospital (and its reports, one by default) written straight to the database; its id."""
    with app.app_context():
        hospital = Hospital(**hospital_values(**overrides))
        db.session.add(hospital)
        for report in reports:
            db.session.add(Report(hospital=hospital, **report_values(**report)))
        db.session.commit()
        return hospital.id


def make_report(app, hospital_id: int, **overrides) -> int:
    with app.app_context():
        report = Report(hospital_id=hospital_id, **report_values(**overrides))
        db.session.add(report)
        db.session.commit()
        return report.id


# --- Reading the database and the pages ------------------------------------------------------


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def fetch(app, model, id_):
    """A row as the database holds it now, detached, to compare with what a page did."""
    with app.app_context():
        obj = db.session.get(model, id_)
        if obj is not None:
            db.session.expunge(obj)
        return obj


@contextmanager
def count_queries(app, fail_on: str | None = None):
    """The SQL statements the app sends while the block runs, to count or inspect. With
    `fail_on`, a statement starting with it raises instead of reaching the database: an
    injected fault, after whatever the request had sent before it."""
    statements: list[str] = []

    def before(conn, cursor, statement, *args):
        statements.append(statement)
        if fail_on is not None and statement.startswith(fail_on):
            raise RuntimeError(f"injected fault: {fail_on} …")

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def page_text(response) -> str:
    """The page as a person reads it: tags dropped, white space folded, entities decoded."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def hidden_fields(response, prefix: str = "") -> dict[str, str]:
    """The hidden inputs of a page whose name starts with `prefix`, as a browser would send
    them back: {name: value}."""
    from html.parser import HTMLParser

    found: dict[str, str] = {}

    class Inputs(HTMLParser):
        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if (
                tag == "input"
                and a.get("type") == "hidden"
                and a.get("name", "").startswith(prefix)
            ):
                found[a["name"]] = a.get("value") or ""

    Inputs().feed(response.get_data(as_text=True))
    return found


VERSION_RE = re.compile(r'name="version" type="hidden" value="(\d*)"')


def confirmation_form(client, url: str) -> dict:
    """What the button of a confirmation page (GET `url`) sends: its token and the version of
    the record the page showed."""
    html = client.get(url).get_data(as_text=True)
    token, version = CSRF_RE.search(html), VERSION_RE.search(html)
    assert token and version, f"no confirmation form on {url}"
    return {"csrf_token": token.group(1), "version": version.group(1)}
