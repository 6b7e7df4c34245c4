"""`flask --app wsgi backup FILE`: a consistent copy of a SQLite database that is being written,
and a clear refusal, with the right tool, on PostgreSQL and MariaDB.

The copies are of a SQLite database of their own (migrated once for this module), so these
tests run, unskipped, whatever DATABASE_URL the suite runs on; on PostgreSQL or MariaDB the
refusal is also checked against the suite's own database."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from flask_migrate import upgrade
from helpers import ADMIN_EMAIL, csrf_token, empty_tables, make_app, make_user, new_hospital_form
from helpers import signed_in_client as sign_in
from sqlalchemy.engine import make_url

from hospital_app.extensions import db

WAIT_BOUND = 60  # seconds: generous, only reached when something is broken


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('backup') / 'live.db'}"
    app = make_app(url)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


@pytest.fixture
def live(sqlite_url):
    app = make_app(sqlite_url)
    empty_tables(app)
    make_user(app, "admin", email=ADMIN_EMAIL)
    yield app
    with app.app_context():
        db.engine.dispose()


def backup(app, *args):
    return app.test_cli_runner().invoke(args=["backup", *map(str, args)])


def rows(path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_a_backup_taken_while_reports_are_saved_holds_every_committed_row(live, tmp_path):
    """A thread saves new hospitals (each with its first report and audit entry, committed
    in one transaction) through the app's form while the backup runs. Everything committed
    before the backup began is in the copy, and the copy is whole."""
    committed: list[str] = []
    stop = threading.Event()
    failures: list[BaseException] = []

    def writer():
        try:
            client = sign_in(live, ADMIN_EMAIL)
            token = csrf_token(client)
            n = 0
            while not stop.is_set():
                n += 1
                code = f"BAK-{n:05d}"
                form = new_hospital_form(token, code=code, name=f"Backup Test Hospital {n}")
                response = client.post("/hospitals/new", data=form)
                assert response.status_code == 303, response.get_data(as_text=True)
                committed.append(code)  # the 303 comes after the commit
        except BaseException as error:  # reported by the test below, not lost in the thread
            failures.append(error)

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + WAIT_BOUND
        while len(committed) < count and not failures and time.monotonic() < deadline:
            time.sleep(0.01)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        wait_for(20)
        before = list(committed)
        target = tmp_path / "copy.db"
        result = backup(live, target)
        after_backup = len(committed)
        wait_for(after_backup + 5)  # still writing after the backup: it blocked nobody
    finally:
        stop.set()
        thread.join(WAIT_BOUND)
    assert not failures, failures
    assert result.exit_code == 0, result.output
    assert "integrity check ok" in result.output
    assert len(before) >= 20 and len(committed) >= after_backup + 5

    assert rows(target, "PRAGMA integrity_check") == [("ok",)]
    assert rows(target, "PRAGMA journal_mode") == [("delete",)]  # one self-contained file
    copied = {code for (code,) in rows(target, "SELECT code FROM hospitals")}
    assert set(before) <= copied
    # One moment's database: every hospital in the copy has its first report and its audit
    # entry, however far the writer had got.
    assert rows(target, "PRAGMA foreign_key_check") == []
    assert rows(
        target,
        "SELECT count(*) FROM hospitals h WHERE NOT EXISTS "
        "(SELECT 1 FROM hospital_stats r WHERE r.hospital_id = h.id)",
    ) == [(0,)]
    assert rows(
        target,
        "SELECT count(*) FROM hospitals h WHERE NOT EXISTS "
        "(SELECT 1 FROM audit_log a WHERE a.hospital_id = h.id)",
    ) == [(0,)]
    # Restored: the app runs on the copy and shows what it holds.
    restored = make_app(f"sqlite:///{target}")
    try:
        page = sign_in(restored, ADMIN_EMAIL).get(f"/hospitals?q={before[0]}")
        assert page.status_code == 200 and "Backup Test Hospital 1" in page.get_data(as_text=True)
    finally:
        with restored.app_context():
            db.engine.dispose()


def test_an_existing_file_is_kept_unless_forced(live, tmp_path):
    target = tmp_path / "copy.db"
    target.write_bytes(b"yesterday's backup")
    result = backup(live, target)
    assert result.exit_code == 1
    assert "exists already: choose another name, or add --force" in result.output
    assert target.read_bytes() == b"yesterday's backup"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.db"]

    forced = backup(live, "--force", target)
    assert forced.exit_code == 0, forced.output
    assert rows(target, "SELECT email FROM users") == [(ADMIN_EMAIL,)]


def test_a_failed_backup_leaves_nothing(tmp_path):
    """The source is not a database: SQLite fails part-way; neither FILE nor a temporary
    file is left behind."""
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database " * 1000)
    out = tmp_path / "out"
    out.mkdir()
    app = make_app(f"sqlite:///{broken}")
    result = backup(app, out / "copy.db")
    assert result.exit_code == 1
    assert "SQLite could not copy the database" in result.output
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("missing-folder/copy.db", "does not exist"),
        (".", "is a directory"),
    ],
)
def test_a_bad_file_name_is_refused(live, tmp_path, monkeypatch, target, message):
    monkeypatch.chdir(tmp_path)
    result = backup(live, target)
    assert result.exit_code != 0 and message in result.output
    assert list(tmp_path.iterdir()) == []


def test_the_database_itself_is_not_a_target(live):
    source = make_url(live.config["SQLALCHEMY_DATABASE_URI"]).database
    result = backup(live, "--force", source)
    assert result.exit_code == 1 and "FILE is the database itself" in result.output


def test_an_in_memory_database_is_refused(tmp_path):
    result = backup(make_app("sqlite://"), tmp_path / "copy.db")
    assert result.exit_code == 1 and "in memory" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql+psycopg://hospital:pw@db.example:5433/registry",
            "pg_dump -Fc -h db.example -p 5433 -U hospital -f FILE.dump registry",
        ),
        (
            "mysql+pymysql://hospital:pw@db.example/registry?charset=utf8mb4",
            "mariadb-dump --single-transaction -h db.example -P 3306 -u hospital -p "
            "--databases registry",
        ),
    ],
    ids=["postgresql", "mariadb"],
)
def test_database_servers_are_refused_with_their_own_tool(tmp_path, url, expected):
    result = backup(make_app(url), tmp_path / "copy.db")
    assert result.exit_code == 1
    assert "copies SQLite databases only" in result.output and expected in result.output
    assert ":pw@" not in result.output and " pw " not in result.output  # never printed
    assert list(tmp_path.iterdir()) == []


def test_the_suites_own_database_is_copied_or_refused(app, tmp_path):
    """On the database the suite runs on: SQLite is copied; a server is refused."""
    result = backup(app, tmp_path / "copy.db")
    if make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() == "sqlite":
        assert result.exit_code == 0, result.output
        assert rows(tmp_path / "copy.db", "PRAGMA integrity_check") == [("ok",)]
    else:
        assert result.exit_code == 1 and "copies SQLite databases only" in result.output
        assert list(tmp_path.iterdir()) == []
