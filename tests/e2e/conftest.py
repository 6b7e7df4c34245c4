"""End-to-end fixtures: the real app served by gunicorn (several worker processes, production
settings, the test database), and a real Chromium driven by Playwright's sync API.

The server is started once per test module and shares the test database with the `app`
fixture, so a test that talks to it also requests `app`: that empties the tables first and
lets the test read the rows the server wrote.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sysconfig
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import ADMIN_EMAIL, TEST_SECRET, TIMEZONE, make_user
from playwright.sync_api import sync_playwright

from e2e.browser_helpers import DESKTOP, sign_in

REPO_ROOT = Path(__file__).resolve().parents[2]
OUTPUT_DIR = REPO_ROOT / "test-output"
SCREENSHOT_DIR = OUTPUT_DIR / "screenshots"

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling outside hosts, which this
# network refuses (see MACHINE-NOTES.md).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STARTUP_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

_CHROMIUM_MISSING = pytest.StashKey[bool]()

# axe-core, injected into pages by test_accessibility.py: `make axe` installs the version that
# tests/e2e/package-lock.json pins (npm ci), into this folder that git ignores.
AXE_JS = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
AXE_MISSING_BANNER = "!!! THE ACCESSIBILITY TESTS WILL NOT RUN"
_AXE_MISSING = pytest.StashKey[bool]()


@dataclass
class LiveServer:
    url: str
    log_path: Path

    def log_offset(self) -> int:
        """Where the log ends now: pass it to log() to read only what a test caused."""
        return self.log_path.stat().st_size

    def log(self, since: int = 0) -> str:
        with self.log_path.open("rb") as fh:
            fh.seek(since)
            return fh.read().decode("utf-8", errors="replace")

    def wait_for_log(self, text: str, times: int = 1, since: int = 0, timeout: float = 10.0) -> str:
        """The log once `text` appears `times` times. gunicorn writes an access line after the
        response has gone out, so a client can be faster than the log."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log(since)
            if log.count(text) >= times or time.monotonic() > deadline:
                return log
            time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        # S310: the URL is always the http://127.0.0.1 address this fixture built.
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(proc: subprocess.Popen, pidfile: Path) -> None:
    """SIGTERM to the arbiter (graceful: workers finish their request), then wait; SIGKILL the
    whole process group if it hangs, so no worker outlives the tests."""
    if proc.poll() is not None:
        return
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        pid = proc.pid  # gunicorn had not written its pid file yet
    os.kill(pid, signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT)


@pytest.fixture(scope="module")
def live_server(request, migrated_url, tmp_path_factory):
    """gunicorn serving wsgi:app with 3 workers (a module's WORKERS, when it sets one) on a
    free port, on the test database."""
    OUTPUT_DIR.mkdir(exist_ok=True)
    name = request.module.__name__.rsplit(".", 1)[-1]
    log_path = OUTPUT_DIR / f"gunicorn-{name}.log"
    # A fresh directory: gunicorn refuses to start over a pid file naming a live process.
    pidfile = tmp_path_factory.mktemp("gunicorn") / "gunicorn.pid"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(getattr(request.module, "WORKERS", 3)),
        "DATABASE_URL": migrated_url,
        "APP_ENV": "production",
        "SECRET_KEY": TEST_SECRET,
        # The tests' time zone, not the developer's: the server's today is the tests' today().
        "TIMEZONE": TIMEZONE,
        "ACCESS_LOG": "-",
    }
    # The gunicorn of the interpreter running the tests (.venv/bin/gunicorn under `make test`).
    gunicorn = Path(sysconfig.get_path("scripts")) / "gunicorn"
    command = [str(gunicorn), "-c", "gunicorn.conf.py", "--pid", str(pidfile), "wsgi:app"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, for the SIGKILL of last resort
        )
    server = LiveServer(url=url, log_path=log_path)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _healthy(url):
            if proc.poll() is not None:
                pytest.fail(
                    f"gunicorn exited with status {proc.returncode} before answering "
                    f"/healthz. Its log ({log_path}):\n{server.log()}",
                    pytrace=False,
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    "gunicorn did not answer GET /healthz with 200 within "
                    f"{STARTUP_TIMEOUT:.0f} s. Its log ({log_path}):\n{server.log()}",
                    pytrace=False,
                )
            time.sleep(0.2)
        yield server
    finally:
        _stop(proc, pidfile)


@pytest.fixture(scope="session")
def browser(pytestconfig):
    if not os.access(CHROMIUM, os.X_OK):
        message = f"{CHROMIUM} is missing: install Debian's chromium package (`make browser`)."
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests, but {message}", pytrace=False)
        # Remembered for the banner at the end of the run (pytest_terminal_summary below).
        pytestconfig.stash[_CHROMIUM_MISSING] = True
        pytest.skip(message)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser, live_server):
    # en-US fixes the order of a date input's segments (month/day/year) for keyboard typing.
    context = browser.new_context(base_url=live_server.url, viewport=DESKTOP, locale="en-US")
    # Bounded waits: a page that never comes fails the test instead of hanging it.
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def blank_page(context):
    """A browser tab nobody has signed in with."""
    return context.new_page()


@pytest.fixture
def page(app, blank_page):
    """A tab signed in as an administrator (the account is made in the emptied database)."""
    make_user(app, "admin", email=ADMIN_EMAIL, name="Ada Admin")
    sign_in(blank_page, ADMIN_EMAIL)
    return blank_page


@pytest.fixture(scope="session")
def axe(pytestconfig) -> Path:
    """The path of axe-core's script, to inject with page.add_script_tag(path=…). Missing, it
    skips the test loudly, except under CI, which must run the accessibility tests."""
    if not AXE_JS.is_file():
        message = (
            f"{AXE_JS.relative_to(REPO_ROOT)} is missing: `make axe` installs it "
            "(npm ci --prefix tests/e2e; needs npm)."
        )
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the accessibility tests, but {message}", pytrace=False)
        pytestconfig.stash[_AXE_MISSING] = True
        pytest.skip(f"{AXE_MISSING_BANNER}: {message}")
    return AXE_JS


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    # A skipped browser test reads as one more "s" in a long line; say it where nobody misses it.
    if config.stash.get(_CHROMIUM_MISSING, False):
        loud = {"red": True, "bold": True}
        terminalreporter.write_sep("!", f"BROWSER TESTS DID NOT RUN: {CHROMIUM} is missing", **loud)
        terminalreporter.write_line(
            "Install Debian's chromium package (`make browser`, as root) to run them.", **loud
        )
        terminalreporter.write_sep("!", **loud)
    if config.stash.get(_AXE_MISSING, False):
        loud = {"red": True, "bold": True}
        terminalreporter.write_sep(
            "!", f"ACCESSIBILITY TESTS DID NOT RUN: {AXE_JS} is missing", **loud
        )
        terminalreporter.write_line(
            "Install npm, then `make axe` (npm ci --prefix tests/e2e) to run them.", **loud
        )
        terminalreporter.write_sep("!", **loud)
