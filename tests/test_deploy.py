"""Production starts safely or not at all: gunicorn refuses unsafe settings at once, and
`flask --app wsgi check-deploy` lists every unsafe or doubtful one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sysconfig
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import TEST_SECRET

from hospital_app import ROOT, deploy

GUNICORN = Path(sysconfig.get_path("scripts")) / "gunicorn"
FLASK = Path(sysconfig.get_path("scripts")) / "flask"
# Generous bounds, so a slow machine does not fail the tests; a gunicorn that loops starting
# workers never exits, and then the bound is what fails the test.
EXIT_BOUND = 60
START_BOUND = 30

GOOD_KEY = "9f0c2b7e4d1a86f3c5e0b2d4a7f1e3c6b8d0a2f4e6c8b1d3f5a7c9e0b2d4f6a8"
GOOD_ENV = {
    "APP_ENV": "production",
    "SECRET_KEY": GOOD_KEY,
    "DATABASE_URL": "postgresql+psycopg://hospital@db.internal:5432/hospital",
    "SESSION_COOKIE_SECURE": "true",
    "PROXY_COUNT": "1",
    "BASE_URL": "https://registry.example.org",
    "MAIL_URL": "smtp+starttls://mailer:pw@mail.example.org:587",
    "MAIL_FROM": "registry@example.org",
    "TIMEZONE": "Europe/Lisbon",
}
GOOD_GUNICORN = {
    "bind": "127.0.0.1:8000",
    "workers": 4,
    "timeout": 120,
    "graceful_timeout": 20,
    "keepalive": 5,
    "limit_request_line": 4094,
    "limit_request_fields": 100,
    "limit_request_field_size": 8190,
    "max_requests": 2000,
    "max_requests_jitter": 200,
    "forwarded_allow_ips": "127.0.0.1",
}


def _env(**changes) -> dict:
    """The test process's environment without the app's variables, plus `changes`."""
    names = {*GOOD_ENV, "FLASK_DEBUG", "TIMEZONE", "BIND", "WEB_CONCURRENCY", "GUNICORN_TIMEOUT"}
    env = {k: v for k, v in os.environ.items() if k not in names}
    env.update({k: v for k, v in changes.items() if v is not None})
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- gunicorn refuses at once ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": "short-key-0123"}, "SECRET_KEY is 14 characters long"),
        ({"SECRET_KEY": "changeme"}, "SECRET_KEY is a well-known placeholder"),
        ({"FLASK_DEBUG": "1"}, "FLASK_DEBUG is on"),
    ],
    ids=["no-key", "short-key", "placeholder-key", "debug"],
)
def test_gunicorn_exits_at_once_on_an_unsafe_setting(tmp_path, changes, reason):
    pidfile = tmp_path / "gunicorn.pid"
    env = _env(
        APP_ENV="production",
        SECRET_KEY=GOOD_KEY,
        DATABASE_URL=f"sqlite:///{tmp_path / 'h.db'}",
        BIND=f"127.0.0.1:{_free_port()}",
        WEB_CONCURRENCY="2",
    )
    env.update(changes)
    env = {k: v for k, v in env.items() if v is not None}
    result = subprocess.run(
        [str(GUNICORN), "-c", "gunicorn.conf.py", "--pid", str(pidfile), "wsgi:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=EXIT_BOUND,
    )
    assert result.returncode != 0
    assert f"Hospital Registry cannot start: {reason}" in result.stderr
    # Stopped in the arbiter: no worker was ever started, and no stale pid file is left.
    assert "Booting worker" not in result.stderr
    assert not pidfile.exists()


def test_a_worker_that_cannot_load_the_app_halts_gunicorn_too(tmp_path):
    """Without our gunicorn.conf.py (so without its check in the arbiter), the worker's exit
    status still tells gunicorn to stop rather than start another worker."""
    bare = tmp_path / "bare.conf.py"
    bare.write_text("control_socket_disable = True\n")
    env = _env(APP_ENV="production", DATABASE_URL=f"sqlite:///{tmp_path / 'h.db'}")
    result = subprocess.run(
        [str(GUNICORN), "-c", str(bare), "-w", "2", "-b", f"127.0.0.1:{_free_port()}", "wsgi:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=EXIT_BOUND,
    )
    # The arbiter halts with the boot error's status (3), or with 1 when the worker's exit
    # reaches it (SIGCHLD) before its main loop: gunicorn then raises the same HaltServer
    # uncaught. Either way it stopped instead of starting another worker.
    assert result.returncode in (deploy.BOOT_ERROR, 1)
    assert "Hospital Registry cannot start: SECRET_KEY is not set" in result.stderr
    assert "Worker failed to boot" in result.stderr
    assert result.stderr.count("Booting worker") <= 2  # the two it was asked for, no more


def test_gunicorn_with_a_good_key_starts_and_answers(tmp_path, migrated_url):
    port = _free_port()
    pidfile = tmp_path / "gunicorn.pid"
    env = _env(
        APP_ENV="production",
        SECRET_KEY=TEST_SECRET,
        DATABASE_URL=migrated_url,
        BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="2",
    )
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(GUNICORN), "-c", "gunicorn.conf.py", "--pid", str(pidfile), "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        status = None
        deadline = time.monotonic() + START_BOUND
        while status is None and proc.poll() is None and time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{port}/healthz"
                with urllib.request.urlopen(url, timeout=2) as response:
                    status = response.status
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        assert status == 200, log.read_text()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=EXIT_BOUND)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert proc.returncode == 0, log.read_text()


# --- check-deploy ----------------------------------------------------------------------------


def ids(found) -> set[str]:
    return {finding.id for finding in found}


def test_a_good_production_environment_has_no_findings(tmp_path):
    assert deploy.check(GOOD_ENV, GOOD_GUNICORN, tmp_path) == []
    text, status = deploy.report([])
    assert status == 0 and "No problems found" in text


def test_the_repositorys_gunicorn_conf_sets_every_limit():
    settings = deploy.gunicorn_settings()
    assert deploy.check_gunicorn(settings) == []
    assert settings["limit_request_line"] > 0 and settings["limit_request_field_size"] > 0


@pytest.mark.parametrize(
    ("changes", "expected", "level"),
    [
        ({"SECRET_KEY": None}, "deploy.E001", "error"),
        ({"SECRET_KEY": "too-short"}, "deploy.E001", "error"),
        ({"SECRET_KEY": "secret"}, "deploy.E001", "error"),
        ({"SECRET_KEY": "ab" * 20}, "deploy.E002", "error"),
        ({"SECRET_KEY": "hospitalregistryhospitalregistry"}, "deploy.W003", "warning"),
        ({"APP_ENV": "development"}, "deploy.E010", "error"),
        ({"APP_ENV": "testing"}, "deploy.E010", "error"),
        ({"FLASK_DEBUG": "1"}, "deploy.E011", "error"),
        ({"DATABASE_URL": "sqlite://"}, "deploy.E020", "error"),
        ({"DATABASE_URL": "sqlite:///hospital.db"}, "deploy.E021", "error"),
        ({"DATABASE_URL": None}, "deploy.W022", "warning"),
        ({"SESSION_COOKIE_SECURE": None}, "deploy.E030", "error"),
        ({"SESSION_COOKIE_SECURE": "false"}, "deploy.E030", "error"),
        ({"BASE_URL": "http://registry.example.org"}, "deploy.E031", "error"),
        ({"BASE_URL": None}, "deploy.W032", "warning"),
        ({"PROXY_COUNT": "0"}, "deploy.W033", "warning"),
        ({"MAIL_URL": "smtp://mailer:pw@mail.example.org:25"}, "deploy.E040", "error"),
        ({"MAIL_URL": "smtp://127.0.0.1:25"}, "deploy.W040", "warning"),
        ({"PER_PAGE": "lots"}, "deploy.E000", "error"),
        ({"MAX_CONTENT_LENGTH": str(64 * 1024 * 1024)}, "deploy.W060", "warning"),
        ({"IMPORT_MAX_BYTES": str(1024 * 1024 * 1024)}, "deploy.W060", "warning"),
        ({"TIMEZONE": None}, "deploy.W061", "warning"),
    ],
)
def test_each_unsafe_environment_setting_is_listed(tmp_path, changes, expected, level):
    env = {**GOOD_ENV, **changes}
    env = {k: v for k, v in env.items() if v is not None}
    found = deploy.check(env, GOOD_GUNICORN, tmp_path)
    assert ids(found) == {expected}, found
    assert found[0].level == level and found[0].hint
    text, status = deploy.report(found)
    assert expected in text and "Hint:" in text
    assert status == (1 if level == "error" else 0)
    assert deploy.report(found, strict=True)[1] == 1


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"certfile": "/etc/ssl/app.pem"}, "deploy.W034"),
        ({"bind": "0.0.0.0:8000"}, "deploy.W035"),
        ({"bind": ["10.0.0.5:8000"], "forwarded_allow_ips": "*"}, "deploy.W035"),
        ({"timeout": 900}, "deploy.W052"),
        ({"workers": 1}, "deploy.W053"),
        ({"max_requests_jitter": 0}, "deploy.W054"),
    ],
)
def test_each_doubtful_gunicorn_setting_is_a_warning(tmp_path, changes, expected):
    found = deploy.check(GOOD_ENV, {**GOOD_GUNICORN, **changes}, tmp_path)
    assert expected in ids(found), found
    assert all(f.level == "warning" for f in found)
    assert deploy.report(found)[1] == 0


def test_forwarded_headers_from_anyone_are_a_warning(tmp_path):
    gunicorn = {**GOOD_GUNICORN, "bind": "0.0.0.0:8000", "forwarded_allow_ips": "*"}
    assert {"deploy.W035", "deploy.W036"} <= ids(deploy.check(GOOD_ENV, gunicorn, tmp_path))


@pytest.mark.parametrize("name", deploy.GUNICORN_LIMITS)
def test_a_missing_gunicorn_limit_is_named(tmp_path, name):
    gunicorn = {k: v for k, v in GOOD_GUNICORN.items() if k != name}
    found = deploy.check(GOOD_ENV, gunicorn, tmp_path)
    missing = [f for f in found if f.id == "deploy.W050"]
    assert missing and name in missing[0].message


@pytest.mark.parametrize("name", ["limit_request_line", "limit_request_field_size", "timeout"])
def test_an_unlimited_gunicorn_limit_is_an_error(tmp_path, name):
    found = deploy.check(GOOD_ENV, {**GOOD_GUNICORN, name: 0}, tmp_path)
    assert "deploy.E051" in ids(found)
    assert deploy.report(found)[1] == 1


def _check_deploy(tmp_path, *options, **changes) -> subprocess.CompletedProcess:
    env = _env(**{**GOOD_ENV, "DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}", **changes})
    return subprocess.run(
        [str(FLASK), "--app", "wsgi", "check-deploy", *options],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=EXIT_BOUND,
    )


def test_check_deploy_command_passes_a_good_environment(tmp_path):
    result = _check_deploy(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No problems found" in result.stdout


def test_check_deploy_command_lists_every_problem_and_fails(tmp_path):
    """The app refuses to start without a key; check-deploy still runs and lists that
    refusal together with the other problems."""
    result = _check_deploy(
        tmp_path, SECRET_KEY=None, SESSION_COOKIE_SECURE=None, BASE_URL="http://r.example"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    for expected in ("deploy.E001", "deploy.E030", "deploy.E031", "SECRET_KEY is not set"):
        assert expected in result.stdout
    assert "3 errors, 0 warnings." in result.stdout
    assert "Traceback" not in result.stderr


def test_check_deploy_command_warnings_fail_only_when_strict(tmp_path):
    result = _check_deploy(tmp_path, PROXY_COUNT="0")
    assert result.returncode == 0 and "deploy.W033" in result.stdout
    strict = _check_deploy(tmp_path, "--strict", PROXY_COUNT="0")
    assert strict.returncode == 1 and "deploy.W033" in strict.stdout


def test_production_start_refuses_what_check_deploy_calls_fatal(tmp_path):
    """The app's start and check-deploy judge SECRET_KEY with the same function."""
    from hospital_app.config import ConfigError, load

    for key in ("", "changeme", "x" * 31):
        with pytest.raises(ConfigError):
            load(str(tmp_path), env={"APP_ENV": "production", "SECRET_KEY": key})
        assert "deploy.E001" in ids(deploy.check({**GOOD_ENV, "SECRET_KEY": key}, GOOD_GUNICORN))
    assert load(str(tmp_path), env={"APP_ENV": "production", "SECRET_KEY": "x" * 32})
    # Development and the tests keep their generated or short keys.
    assert load(str(tmp_path), env={"APP_ENV": "testing", "SECRET_KEY": "x"})
