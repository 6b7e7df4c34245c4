"""Fixtures: a real database (SQLite by default; DATABASE_URL for PostgreSQL or MariaDB),
built by the migrations once per run and emptied before each test; an app per test; clients
signed in through the real login form (`client` is an administrator's, `anon` nobody's,
`login_as(role)` anyone's). The factories and helpers the tests share are in helpers.py."""

from __future__ import annotations

import os

import pytest
from flask_migrate import upgrade
from helpers import (
    ADMIN_EMAIL,
    csrf_token,
    fresh_app,
    make_app,
    make_user,
    signed_in_client,
)
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hospital_app import summary
from hospital_app.extensions import db

# The property suite's budget (test_properties.py): a fixed number of examples per test and
# derandomised, so that CI runs the same cases every time; HYPOTHESIS_EXAMPLES=2000 (say) runs
# a longer search. No example database: a run does not depend on the runs before it.
settings.register_profile(
    "suite",
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "25")),
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    # Each test signs in once and every example reads the state it needs (test_properties).
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))


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


@pytest.fixture(scope="session")
def migrated_url(database_url) -> str:
    """The test database, built by the migrations (never create_all)."""
    app = make_app(database_url)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return database_url


@pytest.fixture
def app(migrated_url, request):
    with fresh_app(migrated_url) as app:
        yield app
        # Whatever the test did through the app, the daily sums per region and the weekly
        # counts per hospital still equal the reports' (summary.py keeps them in the same
        # transaction as every write).
        if request.node.get_closest_marker("writes_around_the_app") is None:
            with app.app_context():
                wrong = summary.differences()
            if wrong:
                pytest.fail(f"the sums kept beside the reports differ from them: {wrong[:5]}")


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


@pytest.fixture
def csrf(client) -> str:
    return csrf_token(client)
