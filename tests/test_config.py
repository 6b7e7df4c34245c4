"""Configuration from the environment, and what production refuses."""

from __future__ import annotations

import re
import stat

import pytest
from helpers import TEST_SECRET, TIMEZONE, make_app, today

from hospital_app import create_app
from hospital_app.config import ConfigError, load


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        load(str(tmp_path), env={"APP_ENV": "production"})
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        load(str(tmp_path), env={})  # production is the default
    with pytest.raises(ConfigError):
        create_app({"APP_ENV": "production", "SECRET_KEY": ""})


def test_production_takes_the_secret_key_from_the_environment(tmp_path):
    key = "s3cret-from-env-0123456789abcdef-xyz"
    config = load(str(tmp_path), env={"APP_ENV": "production", "SECRET_KEY": key})
    assert config["SECRET_KEY"] == key
    assert not (tmp_path / "dev-secret-key").exists()


def test_development_keeps_one_generated_key_shared_by_every_worker(tmp_path):
    first = load(str(tmp_path), env={"APP_ENV": "development"})["SECRET_KEY"]
    second = load(str(tmp_path), env={"APP_ENV": "development"})["SECRET_KEY"]
    assert first == second and len(first) >= 64
    key_file = tmp_path / "dev-secret-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_unknown_environment_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="APP_ENV must be one of"):
        load(str(tmp_path), env={"APP_ENV": "staging", "SECRET_KEY": TEST_SECRET})


def test_bad_numbers_are_refused_with_their_name(tmp_path):
    with pytest.raises(ConfigError, match="PER_PAGE must be a whole number"):
        load(str(tmp_path), env={"SECRET_KEY": TEST_SECRET, "PER_PAGE": "many"})


def test_database_url_default_and_forms(tmp_path):
    default = load(str(tmp_path), env={"SECRET_KEY": TEST_SECRET})
    assert default["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'hospital.db'}"
    assert "pool_pre_ping" not in default["SQLALCHEMY_ENGINE_OPTIONS"]
    pg = load(str(tmp_path), env={"SECRET_KEY": TEST_SECRET, "DATABASE_URL": "postgres://u@db/h"})
    assert pg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/h"
    assert pg["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True
    maria = load(
        str(tmp_path), env={"SECRET_KEY": TEST_SECRET, "DATABASE_URL": "mysql+pymysql://r@db/h"}
    )
    assert maria["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True


def test_session_cookie_flags(tmp_path):
    config = load(str(tmp_path), env={"SECRET_KEY": TEST_SECRET})
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["SESSION_COOKIE_SECURE"] is False
    secure = load(str(tmp_path), env={"SECRET_KEY": TEST_SECRET, "SESSION_COOKIE_SECURE": "true"})
    assert secure["SESSION_COOKIE_SECURE"] is True


def test_behind_a_proxy_the_forwarded_prefix_is_honoured(migrated_url):
    app = make_app(migrated_url, PROXY_COUNT=1)
    response = app.test_client().get("/", headers={"X-Forwarded-Prefix": "/registry"})
    # Signed out: to the login page under the prefix, and back under the prefix afterwards.
    assert response.headers["Location"] == "/registry/login?next=/registry/"


def test_without_a_proxy_forwarded_headers_are_ignored(migrated_url):
    app = make_app(migrated_url)
    response = app.test_client().get("/", headers={"X-Forwarded-Prefix": "/registry"})
    assert response.headers["Location"] == "/login?next=/"


def test_wsgi_module_exposes_the_app(monkeypatch, migrated_url):
    import importlib
    import sys

    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    sys.modules.pop("wsgi", None)
    wsgi = importlib.import_module("wsgi")
    assert wsgi.app.test_client().get("/healthz").status_code == 200
    sys.modules.pop("wsgi", None)


def test_timezone_decides_today(tmp_path, migrated_url):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from hospital_app import rules

    with pytest.raises(ConfigError, match="not a known time zone"):
        load(str(tmp_path), env={"SECRET_KEY": TEST_SECRET, "TIMEZONE": "Mars/Olympus"})
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):  # UTC+14 and UTC-11
        app = make_app(migrated_url, TIMEZONE=zone)
        with app.app_context():
            assert rules.today() == datetime.now(ZoneInfo(zone)).date()


def test_the_test_app_keeps_its_time_zone_whatever_the_environment(monkeypatch, migrated_url):
    from hospital_app import rules

    monkeypatch.setenv("TIMEZONE", "Pacific/Kiritimati")  # UTC+14: another day most hours
    app = make_app(migrated_url)
    assert app.config["TIMEZONE"] == TIMEZONE == "UTC"
    with app.app_context():
        assert rules.today() == today()


def test_a_missing_secret_key_stops_the_server_with_one_clear_line(tmp_path):
    import os
    import subprocess
    import sys

    from hospital_app import ROOT

    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "APP_ENV")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/x.db"
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 3  # gunicorn's "worker failed to boot": its arbiter halts
    assert "Hospital Registry cannot start: SECRET_KEY is not set." in result.stderr
    assert "Traceback" not in result.stderr


def test_mail_settings_are_optional_and_read_from_the_environment(tmp_path):
    unset = load(str(tmp_path), env={"SECRET_KEY": TEST_SECRET})
    assert (unset["MAIL_URL"], unset["MAIL_FROM"], unset["BASE_URL"]) == (None, None, None)
    env = {
        "SECRET_KEY": TEST_SECRET,
        "MAIL_URL": "smtp+starttls://u:pw@mail.example.org:587",
        "MAIL_FROM": "registry@example.org",
        "BASE_URL": "https://registry.example.org",
    }
    config = load(str(tmp_path), env=env)
    assert config["MAIL_URL"] == env["MAIL_URL"]
    assert config["MAIL_FROM"] == "registry@example.org"
    assert config["BASE_URL"] == "https://registry.example.org"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MAIL_URL", "mail.example.org:25", "MAIL_URL mail.example.org:25 must start with"),
        ("MAIL_URL", "smtp://u:hunter22@mail.example.org:x", "u:***@mail.example.org"),
        ("MAIL_FROM", "registry", "MAIL_FROM must be an email address"),
        ("BASE_URL", "registry.example.org", "BASE_URL must be the app's address"),
    ],
)
def test_wrong_mail_settings_stop_the_app_at_start(tmp_path, name, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as raised:
        load(str(tmp_path), env={"SECRET_KEY": TEST_SECRET, name: value})
    assert "hunter22" not in str(raised.value)
