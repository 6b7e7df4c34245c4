"""Is this environment safe for production? `flask --app wsgi check-deploy` lists every unsafe
or doubtful setting, each with an id, a level and a hint, like Django's `check --deploy`.

Errors make the command exit with status 1: production must not run like that. Warnings are
printed but do not fail, unless `--strict` is given: they depend on how the machine around the
app is set up (a proxy, a mail relay), which the app cannot see. The app's own start refuses
the worst of the errors by itself (config.load: no or a short SECRET_KEY, debug mode), and so
does gunicorn's arbiter before it starts any worker (gunicorn.conf.py, on_starting)."""

from __future__ import annotations

import ipaddress
import math
import os
import runpy
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import click
from flask import Flask
from sqlalchemy.engine import make_url

from . import config as config_module
from .mail import parse_url

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"
GUNICORN_CONF = ROOT / "gunicorn.conf.py"

# gunicorn's arbiter halts, instead of starting another worker, when a worker exits with this
# status (gunicorn.arbiter.Arbiter.WORKER_BOOT_ERROR).
BOOT_ERROR = 3

# Shannon's estimate over the key's own characters: token_hex(32) gives about 250 bits.
SECRET_KEY_MIN_BITS = 128
SECRET_KEY_MIN_DISTINCT = 10

# gunicorn settings that bound what one client or one request can take from a worker.
GUNICORN_LIMITS = (
    "workers",
    "timeout",
    "graceful_timeout",
    "keepalive",
    "limit_request_line",
    "limit_request_fields",
    "limit_request_field_size",
    "max_requests",
    "max_requests_jitter",
)

MB = 1024 * 1024

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    id: str
    level: str
    message: str
    hint: str


def _on(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _bits(secret: str) -> float:
    counts = Counter(secret)
    per_char = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    return per_char * len(secret)


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bind_host(bind: str) -> str:
    if bind.startswith("unix:"):
        return "localhost"  # a socket file: only this machine reaches it
    host, _, _port = bind.rpartition(":")
    return host or bind


def check_secret_key(env: Mapping[str, str]) -> list[Finding]:
    secret = env.get("SECRET_KEY") or None
    hint = f"Set SECRET_KEY to a long random value: {config_module.MAKE_A_KEY}"
    problem = config_module.secret_key_problem(secret)
    if problem:
        return [Finding("deploy.E001", ERROR, problem, hint)]
    if len(set(secret)) < SECRET_KEY_MIN_DISTINCT:
        message = f"SECRET_KEY uses only {len(set(secret))} different characters: guessable."
        return [Finding("deploy.E002", ERROR, message, hint)]
    if _bits(secret) < SECRET_KEY_MIN_BITS:
        message = (
            f"SECRET_KEY looks like about {_bits(secret):.0f} bits of randomness, less than "
            f"{SECRET_KEY_MIN_BITS}: it may be a word or a pattern rather than a random value."
        )
        return [Finding("deploy.W003", WARNING, message, hint)]
    return []


def check_mode(env: Mapping[str, str]) -> list[Finding]:
    found = []
    app_env = env.get("APP_ENV") or "production"
    if app_env != "production":
        found.append(
            Finding(
                "deploy.E010",
                ERROR,
                f"APP_ENV is {app_env!r}: the {app_env} settings (a generated key, test "
                "shortcuts) are not for production.",
                "Unset APP_ENV or set APP_ENV=production.",
            )
        )
    if _on(env, "FLASK_DEBUG"):
        found.append(
            Finding(
                "deploy.E011",
                ERROR,
                "FLASK_DEBUG is on: the debugger runs any code typed into an error page.",
                "Unset FLASK_DEBUG (and never pass --debug in production).",
            )
        )
    return found


def check_database(settings: Mapping, instance_path: Path = INSTANCE) -> list[Finding]:
    url = make_url(settings["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite":
        return []
    path = url.database or ""
    if path in ("", ":memory:") or "mode=memory" in str(url):
        return [
            Finding(
                "deploy.E020",
                ERROR,
                "DATABASE_URL names an in-memory SQLite database: every worker has its own "
                "and everything is lost when it stops.",
                "Set DATABASE_URL to a file (sqlite:////var/lib/hospital/hospital.db) or a "
                "PostgreSQL/MariaDB server.",
            )
        ]
    if not os.path.isabs(path):
        return [
            Finding(
                "deploy.E021",
                ERROR,
                f"DATABASE_URL names the SQLite file {path!r} relative to the current "
                "directory: a command run from elsewhere opens (and creates) another database.",
                "Use an absolute path: sqlite:////var/lib/hospital/hospital.db (four slashes).",
            )
        ]
    if Path(path) == Path(instance_path) / "hospital.db":
        return [
            Finding(
                "deploy.W022",
                WARNING,
                f"DATABASE_URL is not set: the data lives in {path}, inside the code's folder, "
                "where a new release or a fresh checkout can lose it.",
                "Set DATABASE_URL to a file outside the checkout "
                "(sqlite:////var/lib/hospital/hospital.db), back it up with "
                "`flask --app wsgi backup FILE`, or use PostgreSQL.",
            )
        ]
    return []


def check_https(env: Mapping[str, str], settings: Mapping, gunicorn: Mapping) -> list[Finding]:
    """Cookies, BASE_URL and the proxy settings must agree on HTTPS, whoever terminates it."""
    found = []
    if not settings["SESSION_COOKIE_SECURE"]:
        found.append(
            Finding(
                "deploy.E030",
                ERROR,
                "SESSION_COOKIE_SECURE is off: the session cookie (and the remember-me cookie "
                "with it) also travels over plain HTTP, where anyone on the network can copy "
                "it and be signed in as its owner.",
                "Serve the app over HTTPS and set SESSION_COOKIE_SECURE=true.",
            )
        )
    base_url = settings.get("BASE_URL")
    if base_url and not base_url.startswith("https://"):
        found.append(
            Finding(
                "deploy.E031",
                ERROR,
                f"BASE_URL is {base_url!r}: the links in reminder emails would send people "
                "to the app over plain HTTP.",
                "Set BASE_URL to the app's https:// address.",
            )
        )
    if settings.get("MAIL_URL") and not base_url:
        found.append(
            Finding(
                "deploy.W032",
                WARNING,
                "MAIL_URL is set but BASE_URL is not: send-reminders will refuse to run.",
                "Set BASE_URL to the app's https:// address.",
            )
        )
    tls_in_gunicorn = bool(gunicorn.get("certfile"))
    proxies = settings["PROXY_COUNT"]
    if proxies == 0 and not tls_in_gunicorn:
        found.append(
            Finding(
                "deploy.W033",
                WARNING,
                "PROXY_COUNT is 0 and gunicorn has no certificate: either nothing serves "
                "HTTPS, or a proxy does and the app ignores its X-Forwarded-* headers (links "
                "then say http://, and sign-in throttling counts the proxy's address, so one "
                "person's wrong guesses slow everyone). gunicorn's sync workers also need a "
                "proxy that buffers slow clients (README, Deployment).",
                "Put a buffering reverse proxy (nginx, haproxy) in front and set PROXY_COUNT=1.",
            )
        )
    if proxies > 0 and tls_in_gunicorn:
        found.append(
            Finding(
                "deploy.W034",
                WARNING,
                f"PROXY_COUNT is {proxies} but gunicorn serves HTTPS itself: clients that "
                "reach it directly can forge X-Forwarded-For and X-Forwarded-Proto.",
                "Either drop certfile and let the proxy terminate HTTPS, or set PROXY_COUNT=0.",
            )
        )
    bind = gunicorn.get("bind") or []
    binds = [bind] if isinstance(bind, str) else list(bind)
    exposed = [b for b in binds if not _loopback(_bind_host(b))]
    if proxies > 0 and exposed:
        found.append(
            Finding(
                "deploy.W035",
                WARNING,
                f"PROXY_COUNT is {proxies} and gunicorn listens on {', '.join(exposed)}: "
                "anyone who reaches that address directly, not through the proxy, chooses "
                "the X-Forwarded-* headers the app trusts (and the address throttling counts).",
                "Let only the proxy reach that address (firewall), or bind to 127.0.0.1 "
                "with the proxy on the same machine.",
            )
        )
    if exposed and gunicorn.get("forwarded_allow_ips") in ("*", ["*"]):
        found.append(
            Finding(
                "deploy.W036",
                WARNING,
                "FORWARDED_ALLOW_IPS is '*' on an address others can reach: gunicorn believes "
                "any client's X-Forwarded-Proto.",
                "Set FORWARDED_ALLOW_IPS to the proxy's address.",
            )
        )
    return found


def check_mail(settings: Mapping) -> list[Finding]:
    url = settings.get("MAIL_URL")
    if not url:
        return []
    server = parse_url(url)
    if server.scheme != "smtp":
        return []
    local = _loopback(server.host)
    return [
        Finding(
            "deploy.W040" if local else "deploy.E040",
            WARNING if local else ERROR,
            f"MAIL_URL uses smtp:// to {server.host}: the mail server's password and the "
            "reminders cross the network unencrypted"
            + (" (a relay on this machine: doubtful, not fatal)." if local else "."),
            "Use smtps:// (port 465) or smtp+starttls:// (port 587).",
        )
    ]


def check_gunicorn(gunicorn: Mapping) -> list[Finding]:
    found = []
    missing = [name for name in GUNICORN_LIMITS if name not in gunicorn]
    if missing:
        found.append(
            Finding(
                "deploy.W050",
                WARNING,
                f"gunicorn.conf.py does not set {', '.join(missing)}: gunicorn's defaults "
                "then decide how much one client or request can take.",
                "Set them in gunicorn.conf.py, as the repository's file does.",
            )
        )
    unlimited = [
        name
        for name in ("limit_request_line", "limit_request_field_size", "timeout")
        if name in gunicorn and int(gunicorn[name]) == 0
    ]
    if unlimited:
        found.append(
            Finding(
                "deploy.E051",
                ERROR,
                f"gunicorn's {', '.join(unlimited)} is 0, which means unlimited: one client "
                "can hold a worker or its memory as long as it likes.",
                "Give each a limit (gunicorn.conf.py has the reasons for its values).",
            )
        )
    if "timeout" in gunicorn and int(gunicorn["timeout"]) > 300:
        found.append(
            Finding(
                "deploy.W052",
                WARNING,
                f"gunicorn's timeout is {gunicorn['timeout']} s: a stuck request holds its "
                "worker that long before gunicorn replaces it.",
                "Keep GUNICORN_TIMEOUT at a few minutes at most (120 s fits a large import).",
            )
        )
    workers = gunicorn.get("workers")
    if workers is not None and int(workers) < 2:
        found.append(
            Finding(
                "deploy.W053",
                WARNING,
                f"gunicorn runs {workers} worker: one slow request makes everyone wait.",
                "Set WEB_CONCURRENCY to 2 or more.",
            )
        )
    if gunicorn.get("max_requests") and not gunicorn.get("max_requests_jitter"):
        found.append(
            Finding(
                "deploy.W054",
                WARNING,
                "max_requests is set without max_requests_jitter: all workers restart at "
                "about the same moment.",
                "Set max_requests_jitter to about a tenth of max_requests.",
            )
        )
    return found


def check_sizes_and_time(settings: Mapping) -> list[Finding]:
    found = []
    for name, bound in (("MAX_CONTENT_LENGTH", 16 * MB), ("IMPORT_MAX_BYTES", 100 * MB)):
        if settings[name] > bound:
            found.append(
                Finding(
                    "deploy.W060",
                    WARNING,
                    f"{name} is {settings[name]:,} bytes: a few such requests at once can "
                    "fill the workers' memory.",
                    f"Keep {name} at {bound // MB} MB or less.",
                )
            )
    if not settings.get("TIMEZONE"):
        found.append(
            Finding(
                "deploy.W061",
                WARNING,
                "TIMEZONE is not set: which day is today (what is due, what is late) follows "
                "the server's own time zone, often UTC, not the hospitals'.",
                "Set TIMEZONE to the hospitals' zone, e.g. TIMEZONE=Europe/Lisbon.",
            )
        )
    return found


def gunicorn_settings(path: Path = GUNICORN_CONF) -> dict:
    """The settings gunicorn.conf.py makes in this environment (its hooks left out)."""
    if not path.exists():
        return {}
    namespace = runpy.run_path(str(path))
    return {k: v for k, v in namespace.items() if not k.startswith("_") and not callable(v)}


def check(
    env: Mapping[str, str] | None = None,
    gunicorn: Mapping | None = None,
    instance_path: Path = INSTANCE,
) -> list[Finding]:
    """Every finding for this environment (default os.environ) and gunicorn settings."""
    env = dict(os.environ if env is None else env)
    gunicorn = gunicorn_settings() if gunicorn is None else gunicorn
    found = check_secret_key(env) + check_mode(env)
    try:
        # The same parsing as the app's start; the key and the mode were checked above, so
        # stand-ins keep load() from refusing (or writing a development key file) for them.
        settings = config_module.load(
            str(instance_path),
            {"APP_ENV": "production", "SECRET_KEY": "-" * 64},
            env={k: v for k, v in env.items() if k != "FLASK_DEBUG"},
        )
    except config_module.ConfigError as error:
        refused = Finding(
            "deploy.E000",
            ERROR,
            f"The app refuses this environment: {error}",
            "Fix that setting, then run check-deploy again for the rest.",
        )
        return [*found, refused]
    found += check_database(settings, instance_path)
    found += check_https(env, settings, gunicorn)
    found += check_mail(settings)
    found += check_gunicorn(gunicorn)
    found += check_sizes_and_time(settings)
    return found


def report(found: list[Finding], strict: bool = False) -> tuple[str, int]:
    """The text check-deploy prints and its exit status."""
    lines = []
    for finding in sorted(found, key=lambda f: (f.level != ERROR, f.id)):
        lines.append(f"{finding.level.upper():7} {finding.id}  {finding.message}")
        lines.append(f"{'':7} {'':11}  Hint: {finding.hint}")
    errors = sum(f.level == ERROR for f in found)
    warnings = len(found) - errors
    if not found:
        lines.append("No problems found: these settings are fit for production.")
    else:
        lines.append(
            f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}."
        )
    failed = errors > 0 or (strict and warnings > 0)
    return "\n".join(lines), 1 if failed else 0


@click.command("check-deploy")
@click.option("--strict", is_flag=True, help="Fail on warnings too, not only on errors.")
def check_deploy_command(strict: bool) -> None:
    """List every unsafe or doubtful production setting of this environment (the variables
    the app and gunicorn.conf.py read). Exits with status 1 when there is an error (or, with
    --strict, a warning)."""
    text, status = report(check(), strict)
    click.echo(text)
    sys.exit(status)


def checking_deploy(argv: list[str]) -> bool:
    """Is this process `flask … check-deploy`? Then a refused setting must not stop it."""
    return "check-deploy" in argv[1:]


def checker_app() -> Flask:
    """When the app itself refuses the environment, `flask --app wsgi check-deploy` still runs
    on this bare app, to list that refusal together with everything else."""
    app = Flask("hospital_app", instance_path=str(INSTANCE))
    app.cli.add_command(check_deploy_command)
    return app


def refuse_unsafe_start(log=None) -> None:
    """gunicorn's on_starting hook: load the settings once in the arbiter, before any worker,
    and exit with the reason if the app would refuse them, so the arbiter does not start
    workers that each fail, forever."""
    try:
        config_module.load(str(INSTANCE))
    except config_module.ConfigError as error:
        message = f"Hospital Registry cannot start: {error}"
        if log is not None:
            log.error(message)
        else:
            print(message, file=sys.stderr)
        raise SystemExit(1) from None
