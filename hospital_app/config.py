"""Settings, read from the environment once, when the app is created."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .mail import MailConfigError, parse_url


class ConfigError(RuntimeError):
    """The environment asks for something unsafe or impossible; the app refuses to start."""


ENVIRONMENTS = ("development", "production", "testing")


def _int(env: dict, name: str, default: int) -> int:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}.") from None


def _flag(env: dict, name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


MAKE_A_KEY = "python3 -c 'import secrets; print(secrets.token_hex(32))'"
# Shorter keys can be guessed offline from one signed cookie; token_hex(32) gives 64.
SECRET_KEY_MIN_LENGTH = 32
# Values copied from examples and templates: public, so they sign nothing safely.
PLACEHOLDER_KEYS = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "secret-key",
        "secret_key",
        "secretkey",
        "your-secret-key",
        "dev",
        "development",
        "default",
        "password",
    }
)


def secret_key_problem(secret: str | None) -> str | None:
    """Why production must not start with this SECRET_KEY, or None. The app's start and
    check-deploy (deploy.py) both ask this, so they refuse exactly the same keys."""
    if not secret:
        return (
            "SECRET_KEY is not set. Production refuses to start without one: "
            f"set SECRET_KEY to a long random value, e.g. {MAKE_A_KEY}."
        )
    if secret.strip().lower() in PLACEHOLDER_KEYS:
        return (
            "SECRET_KEY is a well-known placeholder. Production refuses to start with it: "
            f"set a long random value, e.g. {MAKE_A_KEY}."
        )
    if len(secret) < SECRET_KEY_MIN_LENGTH:
        return (
            f"SECRET_KEY is {len(secret)} characters long; production needs at least "
            f"{SECRET_KEY_MIN_LENGTH}: set a long random value, e.g. {MAKE_A_KEY}."
        )
    return None


def _debug_problem(env: dict) -> str | None:
    # The debugger runs any code a visitor types into an error page.
    if _flag(env, "FLASK_DEBUG"):
        return "FLASK_DEBUG is on. Production refuses to start in debug mode: unset FLASK_DEBUG."
    return None


def _dev_secret_key(instance_path: Path) -> str:
    # Kept in a file, not in memory: every gunicorn worker must sign sessions with the same key,
    # and a restart must not sign everyone out.
    path = instance_path / "dev-secret-key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        # WAL and the busy timeout are set per connection (see database.py); a long timeout
        # lets several gunicorn workers queue for the single writer instead of failing.
        return {"connect_args": {"timeout": 30}}
    # pre_ping replaces connections that a restarted database server closed, so the first
    # request after a restart does not fail; recycle stays under MariaDB's wait_timeout.
    return {"pool_pre_ping": True, "pool_recycle": 1800}


def _mail_settings(env: dict) -> dict:
    """MAIL_URL, MAIL_FROM and BASE_URL, checked now when they are set: a typing slip is
    then found when the app starts, not by the first reminder that should have gone out.
    Only the reminders use them, so none is required here."""
    url = env.get("MAIL_URL") or None
    if url:
        try:
            parse_url(url)
        except MailConfigError as error:
            raise ConfigError(str(error)) from None
    sender = env.get("MAIL_FROM") or None
    if sender and "@" not in sender:
        raise ConfigError(f"MAIL_FROM must be an email address, not {sender!r}.")
    base_url = env.get("BASE_URL") or None
    if base_url and not base_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"BASE_URL must be the app's address starting with https:// (or http://), "
            f"not {base_url!r}."
        )
    return {"MAIL_URL": url, "MAIL_FROM": sender, "BASE_URL": base_url}


def load(instance_path: str, overrides: dict | None = None, env: dict | None = None) -> dict:
    """Build the Flask config from the environment (`env`, default os.environ) and `overrides`."""
    env = dict(os.environ if env is None else env)
    overrides = dict(overrides or {})
    app_env = overrides.pop("APP_ENV", None) or env.get("APP_ENV", "production")
    if app_env not in ENVIRONMENTS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, not {app_env!r}.")

    instance = Path(instance_path)
    url = (
        overrides.get("SQLALCHEMY_DATABASE_URI")
        or env.get("DATABASE_URL")
        or (f"sqlite:///{instance / 'hospital.db'}")
    )
    # Heroku-style URLs name the old driver; we ship psycopg 3.
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]

    secret = overrides.get("SECRET_KEY") or env.get("SECRET_KEY")
    if app_env == "production":
        problem = secret_key_problem(secret) or _debug_problem(env)
        if problem:
            raise ConfigError(problem)
    if not secret:
        secret = _dev_secret_key(instance)

    timezone = env.get("TIMEZONE") or None
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"TIMEZONE {timezone!r} is not a known time zone name.") from None

    mail = _mail_settings(env)

    config = {
        "APP_ENV": app_env,
        # The hospitals' time zone decides what "today" is (None: the server's own).
        "TIMEZONE": timezone,
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(url),
        "SQLALCHEMY_RECORD_QUERIES": False,
        "TESTING": app_env == "testing",
        "PER_PAGE": _int(env, "PER_PAGE", 25),
        # Behind N reverse proxies, trust N X-Forwarded-* hops (0: not behind a proxy).
        "PROXY_COUNT": _int(env, "PROXY_COUNT", 0),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _flag(env, "SESSION_COOKIE_SECURE"),
        # Flask-Login's "remember me" cookie, should a sign-in ever set one: HTTPS-only alike.
        "REMEMBER_COOKIE_SECURE": _flag(env, "SESSION_COOKIE_SECURE"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "MAX_CONTENT_LENGTH": _int(env, "MAX_CONTENT_LENGTH", 1024 * 1024),
        # The CSV import of reports (GET/POST /reports/import) alone accepts files this large.
        "IMPORT_MAX_BYTES": _int(env, "IMPORT_MAX_BYTES", 20 * 1024 * 1024),
        # A form left open through a 12-hour shift still submits.
        "WTF_CSRF_TIME_LIMIT": 12 * 3600,
        # A sign-in lasts one shift; the browser forgets it after 12 hours.
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        "PASSWORD_HASH_METHOD": "scrypt",
        # The email reminders (send-reminders); unset, the command says what to set.
        **mail,
    }
    config.update(overrides)
    return config
