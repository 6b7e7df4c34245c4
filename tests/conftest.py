"""Fixtures: a real database (SQLite by default; DATABASE_URL for PostgreSQL or MariaDB),
built by the migrations once per run and emptied before each test; an app per test; clients
signed in through the real login form (`client` is an administrator's, `anon` nobody's,
`login_as(role)` anyone's); small factories."""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, delete, event, func, select, text
from sqlalchemy.engine import make_url

from hospital_app import create_app
from hospital_app.auth.passwords import hash_password
from hospital_app.extensions import db
from hospital_app.models import (
    AuditEntry,
    Hospital,
    HospitalStats,
    LoginAttempt,
    User,
    hospital_editors,
)

TEST_SECRET = "test-secret-key-not-for-production"
PASSWORD = "correct horse battery staple"
ADMIN_EMAIL = "admin@example.org"
# A fast hash keeps the hundreds of sign-ins of the suite quick; test_auth checks that the
# configured default is scrypt.
FAST_HASH = "pbkdf2:sha256:1000"


def _normalise(url: str) -> str:
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _recreate_server_database(url: str) -> None:
    """Drop and create the test database on its server, so each run starts from nothing."""
    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() == "postgresql":
        engine = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    else:
        engine = create_engine(parsed._replace(database=None))  # set() treats None as unchanged
        with engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    url = _normalise(url)
    name = make_url(url).database or ""
    if "test" not in name:
        pytest.exit(
            f"Refusing to run: DATABASE_URL names the database {name!r}. The suite empties "
            "the database it runs on, so its name must contain 'test'.",
            returncode=2,
        )
    if make_url(url).get_backend_name() != "sqlite":
        _recreate_server_database(url)
    return url


def make_app(url: str, **config):
    return create_app(
        {
            "APP_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": TEST_SECRET,
            "PER_PAGE": 5,
            "PASSWORD_HASH_METHOD": FAST_HASH,
            **config,
        }
    )


@pytest.fixture(scope="session")
def migrated_url(database_url) -> str:
    """The test database, built by the migrations (never create_all)."""
    app = make_app(database_url)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return database_url


def empty_tables(app) -> None:
    with app.app_context():
        for table in (
            hospital_editors,
            AuditEntry.__table__,
            LoginAttempt.__table__,
            HospitalStats.__table__,
            Hospital.__table__,
            User.__table__,
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


@pytest.fixture
def app(migrated_url):
    with fresh_app(migrated_url) as app:
        yield app


def make_user(
    app,
    role: str = "admin",
    email: str | None = None,
    password: str = PASSWORD,
    hospitals: tuple[int, ...] = (),
    active: bool = True,
    name: str | None = None,
) -> int:
    """An account written straight to the database; its id."""
    with app.app_context():
        user = User(
            email=email or f"{role}@example.org",
            display_name=name or f"{role.title()} Person",
            password_hash=hash_password(password),
            role=role,
            is_active=active,
        )
        user.hospitals = [db.session.get(Hospital, h) for h in hospitals]
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


@pytest.fixture
def admin_id(app) -> int:
    return make_user(app, "admin", email=ADMIN_EMAIL, name="Ada Admin")


@pytest.fixture
def client(app, admin_id):
    """An administrator's browser: allowed everything, so tests of the forms are about forms."""
    return signed_in_client(app, ADMIN_EMAIL)


@pytest.fixture
def anon(app):
    """A browser nobody has signed in with."""
    return app.test_client()


@pytest.fixture
def login_as(app):
    """login_as(role, hospitals=(ids…)): a new account of that role, signed in; its client."""
    made = iter(range(1, 1000))

    def sign_in(role: str, hospitals: tuple[int, ...] = ()):
        email = f"{role}{next(made)}@example.org"
        make_user(app, role, email=email, hospitals=hospitals)
        return signed_in_client(app, email)

    return sign_in


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def backend(app) -> str:
    with app.app_context():
        return db.engine.dialect.name


def csrf_token(client, url: str = "/hospitals/new") -> str:
    """The CSRF token, read from a form page as a browser would (CSRF stays on in tests)."""
    match = CSRF_RE.search(client.get(url).get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    return match.group(1)


@pytest.fixture
def csrf(client) -> str:
    return csrf_token(client)


def yesterday() -> date:
    return date.today() - timedelta(days=1)


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


def make_hospital(app, reports: tuple[dict, ...] = ({},), **overrides) -> int:
    """A hospital (and its reports, one by default) written straight to the database; its id."""
    with app.app_context():
        hospital = Hospital(**hospital_values(**overrides))
        db.session.add(hospital)
        for report in reports:
            db.session.add(HospitalStats(hospital=hospital, **report_values(**report)))
        db.session.commit()
        return hospital.id


def make_report(app, hospital_id: int, **overrides) -> int:
    with app.app_context():
        report = HospitalStats(hospital_id=hospital_id, **report_values(**overrides))
        db.session.add(report)
        db.session.commit()
        return report.id


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
    import html

    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())
