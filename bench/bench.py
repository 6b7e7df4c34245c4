"""`make bench`: how fast the app's pages are on a year of a thousand hospitals, against a bare
reference app on the same data, measured in one run on this machine (README "Benchmark").

    .venv/bin/python bench/bench.py        # SQLite, in instance/bench/
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/hospital_bench \
        .venv/bin/python bench/bench.py    # PostgreSQL: hospital_bench_big, _small, _year

1. Makes (or reuses) the three databases of bench/databases.py: big, 365 days of reports of
   1,000 hospitals; small, the same hospitals' first 4 days; year, 10 hospitals' 365 days.
2. Serves, each with gunicorn (2 workers, the app's gunicorn.conf.py, APP_ENV=production) on
   a loopback port: the app on each database, and the reference app (bench/reference/) on
   big. Signs in to the apps through the login form as the bench's administrator and keeps
   the session cookie and a CSRF token. The servers work on copies of the databases made for
   the run (databases.working_copy): what the POSTs write is gone at the next run.
3. Drives each page with wrk for BENCH_SECONDS (5) seconds, in BENCH_ROUNDS (3) rounds; in each
   round the app, the reference and the app on small (or year) take turns page by page, so
   that drift of the machine hits them alike. The two POSTs (a new report, an edited report) send a
   different target each request, chosen from the database at the start of each wrk run: new
   reports on days before every stored one (and before every window a page shows, so they do
   not change what the following rounds measure), edits of random reports with their current
   version (the same figures, a new note: the trends stay as they are).
4. Prints the median round as a Markdown table, with the issue's floors marked; then the
   import figures of bench/bench_import.py when that file exists; and writes both to
   instance/bench/latest.md.

Figures are ratios measured in the same run: on two shared cores the absolute numbers move
from run to run, the ratios much less.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

import databases
from databases import BIG, EMAIL, INSTANCE, PASSWORD, ROOT, SMALL, YEAR

from hospital_app import rules

BIN = ROOT / ".venv" / "bin"
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = max(1, int(os.environ.get("BENCH_ROUNDS", "3")))
# One wrk thread is far from busy at these rates; 4 connections keep both gunicorn workers
# fed (one request waiting behind each) without turning latency into queueing. The machine's
# two cores are shared by wrk, two workers and the database: more load would measure the
# contention, not the pages.
THREADS, CONNECTIONS = 1, 4
# Targets written for each POST run: more than it can send (a target used twice would be
# refused: a second report for a day, a stale version), so the table would show it.
POST_TARGETS = max(2000, 400 * SECONDS)
# New reports go on days before every stored one and at least this far back: outside every
# window a page shows (365 days of trends, 90 of the chart, 13 weeks of the calendar).
FAR_BACK_DAYS = 400
COUNTS = rules.COUNT_FIELDS
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')

# wrk prints its own summary; this line, read back, is what the table is made of.
DONE_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
    .. '"status_errors": %d, "socket_errors": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""
# Each request of a POST run: the next line of the targets file ("path<TAB>form body"); the
# threads take every THREADS-th line each, so no target is sent twice.
POST_LUA = """
local lines, counter, next_id, threads = {}, 0, 0, 1
setup = function(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
init = function(args)
  for line in io.lines(args[1]) do lines[#lines + 1] = line end
  threads = tonumber(args[2])
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
request = function()
  local i = id + counter * threads
  counter = counter + 1
  local line = lines[(i % #lines) + 1]
  local tab = line:find("\\t")
  return wrk.format("POST", line:sub(1, tab - 1), nil, line:sub(tab + 1))
end
"""


# --- Servers --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One gunicorn, 2 workers, as production runs it: `gunicorn.conf.py`, APP_ENV=production,
    a real SECRET_KEY, the access log to a file."""

    def __init__(self, name: str, database_url: str, app: str, secret: str, chdir: Path = ROOT):
        self.name, self.port = name, free_port()
        run = INSTANCE / "run"
        run.mkdir(parents=True, exist_ok=True)
        self.pidfile = run / f"{name}.pid"
        access_log = run / f"{name}-access.log"
        access_log.write_text("")  # this run's requests only
        env = {k: v for k, v in os.environ.items() if k != "FLASK_DEBUG"}
        env.update(
            APP_ENV="production",
            SECRET_KEY=secret,
            DATABASE_URL=database_url,
            BIND=f"127.0.0.1:{self.port}",
            ACCESS_LOG=str(access_log),
            LOG_LEVEL="warning",
        )
        argv = [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "-w", "2"]
        argv += ["--pid", str(self.pidfile), "--chdir", str(chdir), "--pythonpath", str(ROOT)]
        self.log = open(run / f"{name}.log", "w")  # noqa: SIM115 -- open as long as the server
        # The machine's own tools, started on purpose, here and below.
        self.proc = subprocess.Popen(  # noqa: S603
            [*argv, app],
            cwd=chdir,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"{self.name} stopped at start: see {self.log.name}")
            try:
                if get(self.port, "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        sys.exit(f"{self.name} does not answer /healthz after {seconds} s: see {self.log.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the arbiter; it stops its workers
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


# --- HTTP, as a browser would: cookies kept, forms sent ---------------------------------------


def get(port: int, path: str, cookie: str = "") -> tuple[int, bytes, list[str]]:
    return request(port, "GET", path, cookie=cookie)


def request(port, method, path, form=None, cookie="") -> tuple[int, bytes, list[str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Cookie": cookie} if cookie else {}
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body, headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data, response.headers.get_all("Set-Cookie") or []


@dataclass
class Session:
    cookie: str
    token: str


def sign_in(port: int) -> Session:
    """Through the login form, as a person does; then one page, whose form token (and the
    session cookie that holds it) the POSTs send."""
    cookies: dict[str, str] = {}

    def keep(set_cookies: list[str]) -> str:
        for line in set_cookies:
            name, _, rest = line.partition("=")
            cookies[name] = rest.split(";", 1)[0]
        return "; ".join(f"{k}={v}" for k, v in cookies.items() if v)

    status, page, set_cookies = get(port, "/login")
    token = CSRF_RE.search(page.decode()).group(1)
    form = {"email": EMAIL, "password": PASSWORD, "csrf_token": token}
    status, _, set_cookies = request(port, "POST", "/login", form, keep(set_cookies))
    if status != 303:
        sys.exit(f"Signing in on port {port} answered {status}, not 303")
    status, page, set_cookies = get(port, "/entry", keep(set_cookies))
    if status != 200:
        sys.exit(f"/entry answered {status} after signing in")
    return Session(keep(set_cookies), CSRF_RE.search(page.decode()).group(1))


# --- The POSTs' targets ---------------------------------------------------------------------


def _figures(row) -> dict:
    return {name: row._mapping[name] for name in COUNTS}


def _confirmed() -> dict:
    # Figures far from a report's history ask for a confirmation and a reason (outliers.py):
    # sent with every POST, so such a report saves too, as a clerk's confirmed one would.
    return {"confirm_outlier": "y", "follow_up_reason": "correction"}


def create_targets(engine, token: str, today: date) -> list[str]:
    """New reports: each hospital on days before every stored report (and far back), with its
    first report's figures, so none is unusual and none clashes."""
    counts = ", ".join(f"r.{c}" for c in COUNTS)
    with engine.connect() as conn:
        earliest = conn.scalar(text("SELECT min(report_date) FROM hospital_stats"))
        firsts = conn.execute(
            text(
                # The column names are this file's constants; the values are bound.
                f"SELECT r.hospital_id, {counts} FROM hospital_stats r "  # noqa: S608
                "JOIN hospitals h ON h.id = r.hospital_id AND h.is_active "
                "WHERE r.report_date = (SELECT min(report_date) FROM hospital_stats "
                "WHERE hospital_id = r.hospital_id) ORDER BY r.hospital_id"
            )
        ).all()
    earliest = date.fromisoformat(str(earliest)[:10])
    day = min(earliest, today - timedelta(days=FAR_BACK_DAYS)) - timedelta(days=1)
    lines = []
    while len(lines) < POST_TARGETS:
        for row in firsts:
            form = {"csrf_token": token, "report_date": day.isoformat(), **_figures(row)}
            form.update(notes="", **_confirmed())
            lines.append(f"/hospitals/{row.hospital_id}/reports/new\t{urlencode(form)}")
        day -= timedelta(days=1)
    return lines[:POST_TARGETS]


def edit_targets(engine, token: str, today: date, run: str) -> list[str]:
    """Edits of random reports of the last year, each with the version stored now: the same
    figures and a new note (the trends stay as they are)."""
    counts = ", ".join(COUNTS)
    since = today - timedelta(days=FAR_BACK_DAYS)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT id, report_date, version, {counts} FROM hospital_stats "  # noqa: S608
                "WHERE report_date >= :since ORDER BY random() LIMIT :n"
            ),
            {"since": since, "n": POST_TARGETS},
        ).all()
    lines = []
    for n, row in enumerate(rows):
        day = date.fromisoformat(str(row.report_date)[:10])
        form = {"csrf_token": token, "version": row.version, "report_date": day.isoformat()}
        form.update(_figures(row), notes=f"Checked by the bench, run {run}, {n}.", **_confirmed())
        lines.append(f"/reports/{row.id}/edit\t{urlencode(form)}")
    return lines


# --- wrk ------------------------------------------------------------------------------------


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    bad: int  # answers not 2xx or 3xx
    socket_errors: int
    requests: int


def wrk(port: int, path: str, cookie: str, script: Path, args: tuple[str, ...] = ()) -> Result:
    argv = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--timeout", "60s"]
    argv += ["-s", str(script)]
    if cookie:
        argv += ["-H", f"Cookie: {cookie}"]
    argv.append(f"http://127.0.0.1:{port}{path}")
    if args:
        argv += ["--", *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=SECONDS + 120)  # noqa: S603
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        sys.exit(f"wrk gave no figures for {path}:\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line[6:])
    seconds = raw["duration_us"] / 1e6
    return Result(
        rps=raw["requests"] / seconds if seconds else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        bad=raw["status_errors"],
        socket_errors=raw["socket_errors"],
        requests=raw["requests"],
    )


# --- The run --------------------------------------------------------------------------------


@dataclass
class Row:
    label: str
    path: str  # on the app; the POSTs' targets come from `post`
    post: str | None = None  # "create" or "edit"
    reference: str | None = None  # the reference app's path for the same page
    vs_list: bool = False  # a page whose cost is compared with the hospital list's
    # The database its time at 3,650 reports is measured on (databases.py): "small" for
    # the pages that list the hospitals, "year" for those that draw a history; and the
    # page's path there when it differs.
    against: str = "small"
    against_path: str | None = None

    def path_on(self, name: str) -> str:
        if name == "ref":
            return self.reference
        return self.against_path if name == self.against and self.against_path else self.path


def git_revision() -> str:
    found = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return found.stdout.strip() or "?"


def median_result(results: list[Result]) -> Result:
    """The median round's result (by requests per second), with its own latencies."""
    ordered = sorted(results, key=lambda r: r.rps)
    return ordered[(len(ordered) - 1) // 2]


def median_ratio(tops: list[float], bottoms: list[float]) -> float | None:
    """The median of the rounds' ratios (each measured side by side); None when a run
    finished no request at all (a page slower than the run)."""
    if not all(bottoms):
        return None
    return statistics.median(t / b for t, b in zip(tops, bottoms, strict=True))


# A run with fewer answers than this has no real 99th percentile: the table says so.
FEW_ANSWERS = 10


def ratio_cell(value: float | str | None, floor: float, at_least: bool) -> str:
    """A ratio and whether it meets its floor; "" where the column does not apply."""
    if value == "":
        return ""
    if value is None:
        return "no answer in a run ✗"
    met = value >= floor if at_least else value <= floor
    return f"{value:.2f}× {'✓' if met else '✗'}"


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("make bench needs wrk (Debian's package): `make wrk` installs it as root.")
    base = os.environ.get("DATABASE_URL") or None
    urls = {size.name: databases.database_url(base, size) for size in (BIG, SMALL, YEAR)}
    backend = make_url(urls["big"]).get_backend_name()
    started = time.perf_counter()
    for size in (BIG, SMALL, YEAR):
        databases.prepare(urls[size.name], size)
    print(f"Databases ready in {time.perf_counter() - started:.1f} s.")
    started = time.perf_counter()
    # The run writes in copies: every run starts from the same data.
    urls = {name: databases.working_copy(url) for name, url in urls.items()}
    print(f"Copied for this run in {time.perf_counter() - started:.1f} s.")

    engines = {name: create_engine(url) for name, url in urls.items()}
    with engines["big"].connect() as conn:
        middle = conn.scalar(text("SELECT id FROM hospitals ORDER BY id LIMIT 1 OFFSET 499"))
    with engines["year"].connect() as conn:
        year_middle = conn.scalar(text("SELECT id FROM hospitals ORDER BY id LIMIT 1 OFFSET 4"))
    today = rules.today()
    rows = [
        Row("Hospital list", "/hospitals?page=20", reference="/hospitals?page=20"),
        Row(
            "Hospital page",
            f"/hospitals/{middle}",
            reference=f"/hospitals/{middle}",
            against="year",
            against_path=f"/hospitals/{year_middle}",
        ),
        Row("Dashboard, 30 days", "/?days=30", vs_list=True),
        Row("Dashboard, 90 days", "/?days=90", vs_list=True),
        Row("Dashboard, 365 days", "/?days=365", vs_list=True),
        Row("Reports", "/reports"),
        Row("Data entry", "/entry"),
        Row("Timeliness", "/timeliness", vs_list=True),
        Row("New report (POST)", "/", post="create"),
        Row("Edit report (POST)", "/", post="edit"),
    ]

    scripts = INSTANCE / "wrk"
    scripts.mkdir(parents=True, exist_ok=True)
    get_lua, post_lua = scripts / "get.lua", scripts / "post.lua"
    get_lua.write_text(DONE_LUA)
    post_lua.write_text(POST_LUA + DONE_LUA)

    secret = secrets.token_hex(32)
    servers = {
        "big": Server("app-big", urls["big"], "wsgi:app", secret),
        "ref": Server("reference", urls["big"], "app:app", secret, ROOT / "bench" / "reference"),
        "small": Server("app-small", urls["small"], "wsgi:app", secret),
        "year": Server("app-year", urls["year"], "wsgi:app", secret),
    }
    try:
        for server in servers.values():
            server.wait_ready()
        sessions = {name: sign_in(servers[name].port) for name in ("big", "small", "year")}
        sessions["ref"] = Session("", "")

        # Each page once per server (both workers): it answers 200, and how large it is.
        sizes: dict[tuple[str, str], int] = {}
        pages: dict[tuple[str, str], str] = {}
        for row in rows:
            if row.post:
                continue
            for name in ("big", row.against, "ref"):
                path = row.path_on(name)
                if path is None:
                    continue
                for _ in range(3):
                    status, body, _ = get(servers[name].port, path, sessions[name].cookie)
                if status != 200:
                    sys.exit(f"{path} on {servers[name].name} answered {status}, not 200")
                sizes[row.label, name] = len(body)
                pages[row.label, name] = body.decode()
        alike = [same_markup(row.label, pages) for row in rows if row.reference]

        results: dict[tuple[str, str], list[Result]] = {}
        measuring = time.perf_counter()
        run_id = secrets.token_hex(3)
        total_runs = ROUNDS * sum(3 if r.reference else 2 for r in rows)
        print(
            f"Measuring: {ROUNDS} rounds × {total_runs // ROUNDS} wrk runs of {SECONDS} s "
            f"(about {total_runs * (SECONDS + 1) / 60:.0f} min)."
        )
        for round_number in range(1, ROUNDS + 1):
            for row in rows:
                for name in ("big", "ref", row.against) if row.reference else ("big", row.against):
                    server, session = servers[name], sessions[name]
                    if row.post:
                        engine = engines[name]
                        if row.post == "create":
                            lines = create_targets(engine, session.token, today)
                        else:
                            lines = edit_targets(engine, session.token, today, run_id)
                        targets = scripts / f"targets-{name}.txt"
                        targets.write_text("\n".join(lines) + "\n")
                        args = (str(targets), str(THREADS))
                        result = wrk(server.port, "/", session.cookie, post_lua, args)
                    else:
                        path = row.path_on(name)
                        result = wrk(server.port, path, session.cookie, get_lua)
                    results.setdefault((row.label, name), []).append(result)
                    print(
                        f"  round {round_number} {row.label:<22} {server.name:<10} "
                        f"{result.rps:8.1f} req/s  p50 {result.p50_ms:7.1f} ms  "
                        f"non-2xx {result.bad}",
                        flush=True,
                    )
        print(f"Measured in {(time.perf_counter() - measuring) / 60:.1f} min.")
    finally:
        for server in servers.values():
            server.stop()
        for engine in engines.values():
            engine.dispose()

    table = page_table(rows, results, sizes)
    heading = (
        f"## Benchmark: {backend}, {date.today().isoformat()}, commit {git_revision()}\n\n"
        f"gunicorn 2 workers each; wrk -t{THREADS} -c{CONNECTIONS}, {SECONDS} s a run, "
        f"median of {ROUNDS} alternating rounds; {os.cpu_count()} cores "
        f"({platform.processor() or platform.machine()}). Big: {BIG.hospitals:,} hospitals × "
        f"{BIG.days} days ({BIG.reports:,} reports). The time at 3,650 reports is measured on "
        f"the database whose page shows the same rows or days (bench/databases.py): small, "
        f"the same hospitals' first {SMALL.days} days ({SMALL.reports:,} reports), for the "
        f"pages that list hospitals; year, {YEAR.hospitals} hospitals × {YEAR.days} days "
        f"({YEAR.reports:,} reports), for those that draw a history.\n"
    )
    text_out = heading + "\n" + table + "\n" + "\n".join(alike) + "\n"
    imports = import_table(base, backend)
    if imports:
        text_out += "\n" + imports
    print()
    print(text_out)
    latest = INSTANCE / "latest.md"
    latest.write_text(text_out)
    print(f"(written to {latest.relative_to(ROOT)})")


def same_markup(label: str, pages: dict[tuple[str, str], str]) -> str:
    """Whether the reference's page is the app's, but for the sign-out form's token (the
    reference signs nobody in); else the first line that differs, to fix the reference."""
    app, ref = (CSRF_RE.sub("", pages[label, name]).splitlines() for name in ("big", "ref"))
    if app == ref:
        return f"{label}: the reference's markup is the app's, byte for byte (but the token)."
    shorter = min(len(app), len(ref))
    n = next((i for i in range(shorter) if app[i] != ref[i]), shorter)
    app_line = app[n] if n < len(app) else "(end)"
    ref_line = ref[n] if n < len(ref) else "(end)"
    return (
        f"{label}: the reference's markup DIFFERS from the app's at line {n + 1}: "
        f"app `{app_line.strip()[:120]}`, reference `{ref_line.strip()[:120]}`."
    )


def page_table(rows: list[Row], results, sizes) -> str:
    lines = [
        "| page | req/s | p50 ms | p99 ms | vs reference (≥ 0.5×) | cost vs hospital list "
        "(≤ 3×) | time on big ÷ at 3,650 reports (≤ 1.2×), on | non-2xx | bytes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    list_rps = [r.rps for r in results["Hospital list", "big"]]
    for row in rows:
        big = results[row.label, "big"]
        small = results[row.label, row.against]
        shown = median_result(big)
        vs_ref = vs_list = ""
        if row.reference:
            ref = [r.rps for r in results[row.label, "ref"]]
            vs_ref = median_ratio([r.rps for r in big], ref)
        if row.vs_list:
            vs_list = median_ratio(list_rps, [r.rps for r in big])
        growth = median_ratio([r.rps for r in small], [r.rps for r in big])
        bad = sum(r.bad for r in big + small)
        sockets = sum(r.socket_errors for r in big + small)
        size = sizes.get((row.label, "big"))
        few = "*" if shown.requests < FEW_ANSWERS else ""
        lines.append(
            f"| {row.label} | {shown.rps:,.1f} | {shown.p50_ms:.1f} | {shown.p99_ms:.1f}{few} | "
            f"{ratio_cell(vs_ref, 0.5, True)} | {ratio_cell(vs_list, 3.0, False)} | "
            f"{ratio_cell(growth, 1.2, False)} {row.against} | "
            f"{bad}{f' (+{sockets} socket)' if sockets else ''}"
            f" | {f'{size:,}' if size else ''} |"
        )
        if row.reference:
            ref = results[row.label, "ref"]
            shown = median_result(ref)
            bad = sum(r.bad for r in ref)
            lines.append(
                f"| {row.label}, reference | {shown.rps:,.1f} | {shown.p50_ms:.1f} | "
                f"{shown.p99_ms:.1f} | | | | {bad} | {sizes[row.label, 'ref']:,} |"
            )
    if any(line.split(" | ")[3].endswith("*") for line in lines[2:]):
        lines.append(
            f"\n\\* fewer than {FEW_ANSWERS} answers in the run: its p99 is about its slowest."
        )
    return "\n".join(lines) + "\n"


# --- The import's figures (bench/bench_import.py, when it exists) ---------------------------

IMPORT_SCRIPT = ROOT / "bench" / "bench_import.py"
IMPORT_FLOORS = {"sqlite": 20_000, "postgresql": 15_000}
IMPORT_MAX_MB = 150


def import_table(base: str | None, backend: str) -> str | None:
    if not IMPORT_SCRIPT.exists():
        print("(no bench/bench_import.py on this branch: no import figures)")
        return None
    with tempfile.TemporaryDirectory() as folder:
        if backend == "sqlite":
            url = f"sqlite:///{Path(folder) / 'import.db'}"
        else:
            parsed = make_url(base)
            parsed = parsed.set(database=f"{parsed.database}_import")
            databases.recreate(parsed)
            url = parsed.render_as_string(hide_password=False)
        print(f"Import: {IMPORT_SCRIPT.relative_to(ROOT)} on a fresh database…", flush=True)
        done = subprocess.run(  # noqa: S603
            [str(BIN / "python"), str(IMPORT_SCRIPT), "--database-url", url, "--json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    figures = []
    for line in done.stdout.splitlines():
        try:
            figures.append(json.loads(line))
        except ValueError:
            continue
    if done.returncode != 0 or not figures:
        tail = done.stderr[-2000:]
        return f"Import: bench_import.py failed (exit {done.returncode}):\n\n```\n{tail}\n```\n"
    floor = IMPORT_FLOORS.get(backend)
    lines = [
        f"| import case | rows | seconds | rows/s (≥ {floor:,}) | peak MB (≤ {IMPORT_MAX_MB}) |",
        "|---|---:|---:|---:|---:|",
    ]
    for f in figures:
        fast = "✓" if floor and f["rows_per_s"] >= floor else "✗"
        small = "✓" if f["peak_mb"] <= IMPORT_MAX_MB else "✗"
        lines.append(
            f"| {f['case']} | {f['rows']:,} | {f['seconds']:.1f} | "
            f"{f['rows_per_s']:,.0f} {fast} | {f['peak_mb']:.0f} {small} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
