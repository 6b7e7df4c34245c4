"""`make soak`: two app servers behind a load balancer on one PostgreSQL database, 16 clerks
writing at once, workers killed and the database restarted under them; then
`flask --app wsgi check-integrity --expect` proves nothing acknowledged was lost and no
invariant broke.

    .venv/bin/python bench/soak/soak.py          # SOAK_SECONDS=120, DATABASE_URL=…/hospital_soak

What it does, in order (everything it starts is stopped in `finally`, on success or failure,
and PostgreSQL is started again if it is down):
1. empties the database (drop and create), runs the migrations, creates 16 administrators;
2. starts two gunicorn servers (3 workers each) on free loopback ports, and haproxy
   (bench/soak/haproxy.cfg.in) in front of them;
3. runs 16 clerk threads for SOAK_SECONDS: each signs in through the form (cookies, CSRF
   tokens) and, at random, registers a hospital with its first report, adds a report, edits
   a report (half of the edits aim at a few busy hospitals, so edits collide: a 409 is a fine
   answer), imports a CSV file, or reads a page. Every request's outcome goes to
   requests.jsonl; every write the app acknowledged (its 303) to acknowledged.jsonl;
4. meanwhile SIGKILLs one gunicorn worker (not the arbiter) five times, and restarts
   PostgreSQL once, recording the outage window (restart command until pg_isready);
5. runs check-integrity --expect acknowledged.jsonl and prints the figures.

How requests are counted: a 5xx (or no answer at all) whose request overlapped the database's
outage is expected; a 502 or no answer whose request was in flight when a worker was killed is
the kill's (haproxy retries GETs on another worker, never a POST, which the app may have
saved); any other 5xx fails the run. A write without an answer is not acknowledged: the check
accepts it saved or not, but never half saved or twice.

Exit status: 1 when a 5xx fell outside the outage and the kills, a row was lost, or the
integrity check failed. Files: test-output/soak/.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
OUT = ROOT / "test-output" / "soak"
sys.path.insert(0, str(ROOT))

CLERKS = 16
WORKERS = 3  # per app server
PASSWORD = secrets.token_urlsafe(16)  # the clerks' accounts live only as long as the run
COUNT_FIELDS = (
    "beds_total",
    "beds_occupied",
    "icu_beds_total",
    "icu_beds_occupied",
    "ventilators_total",
    "ventilators_in_use",
    "admissions",
    "discharges",
    "deaths",
)
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
VERSION_RE = re.compile(r'name="version"[^>]*value="(\d+)"')
DATE_RE = re.compile(r'name="report_date"[^>]*value="([0-9-]+)"')
REPORT_RE = re.compile(r'href="/reports/(\d+)/edit"')
HOSPITAL_RE = re.compile(r"/hospitals/(\d+)$")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_ready() -> bool:
    return subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]).returncode == 0


def pg_cluster() -> str:
    return sorted(os.listdir("/etc/postgresql"))[-1]


# --- What happened --------------------------------------------------------------------------


@dataclass
class Journal:
    """Every request's outcome, every acknowledged write, every fault made; thread-safe."""

    requests: list[dict] = field(default_factory=list)
    acknowledged: list[dict] = field(default_factory=list)
    kills: list[dict] = field(default_factory=list)
    outage: tuple[float, float] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    signed_out: list[tuple[int, str]] = field(default_factory=list)

    def request_signed_out(self, clerk: int, path: str) -> None:
        with self.lock:
            self.signed_out.append((clerk, path))

    def request(self, **row) -> None:
        with self.lock:
            self.requests.append(row)

    def ack(self, clerk: Clerk, **row) -> None:
        row.update(clerk=clerk.number, request=clerk.sent)
        with self.lock:
            self.acknowledged.append(row)


# --- A clerk --------------------------------------------------------------------------------


class Registry:
    """What the clerks know of the hospitals they registered (id, code): shared."""

    def __init__(self):
        self.hospitals: list[tuple[int, str]] = []
        self.lock = threading.Lock()

    def add(self, hospital_id: int, code: str) -> None:
        with self.lock:
            self.hospitals.append((hospital_id, code))

    def pick(self, rng: random.Random, busy: bool = False) -> tuple[int, str] | None:
        with self.lock:
            if not self.hospitals:
                return None
            # The first few: where edits collide.
            pool = self.hospitals[:4] if busy else self.hospitals
            return rng.choice(pool)


def figures(rng: random.Random) -> dict:
    """A day's figures that obey every rule and stay near the usual (no outlier question)."""
    return {
        "beds_total": 200,
        "beds_occupied": rng.randint(130, 160),
        "icu_beds_total": 20,
        "icu_beds_occupied": rng.randint(9, 13),
        "ventilators_total": 15,
        "ventilators_in_use": rng.randint(4, 8),
        "admissions": rng.randint(25, 32),
        "discharges": rng.randint(23, 30),
        "deaths": rng.randint(0, 2),
    }


class Clerk(threading.Thread):
    def __init__(self, number: int, port: int, journal: Journal, registry: Registry, stop):
        super().__init__(name=f"clerk-{number}", daemon=True)
        self.number = number
        self.port = port
        self.journal = journal
        self.registry = registry
        self.stop = stop
        self.rng = random.Random(number)  # noqa: S311 -- load, not secrets
        self.cookies: dict[str, str] = {}
        self.csrf: str | None = None
        self.made = 0
        self.last_status: int | None = None
        self.sent = 0  # requests sent: an acknowledged write names the one that saved it

    # HTTP, by hand: cookies and the CSRF token as a browser keeps them.
    def call(self, kind, method, path, fields=None, body=None, content_type=None):
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if fields is not None:
            # As a browser posts a form: an empty field is sent empty, not left out (WTForms
            # keeps a stored value for a field that is missing).
            body = "&".join(
                f"{k}={quote('' if v is None else str(v))}" for k, v in fields.items()
            ).encode()
            content_type = "application/x-www-form-urlencoded"
        if content_type:
            headers["Content-Type"] = content_type
        started = time.time()
        status, location, text, error = None, None, "", None
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=90)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            status = response.status
            location = response.getheader("Location")
            for cookie in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = cookie.partition("=")
                value = rest.split(";", 1)[0]
                if value and "Expires=Thu, 01 Jan 1970" not in cookie:
                    self.cookies[name] = value
                else:
                    self.cookies.pop(name, None)
        except (OSError, http.client.HTTPException) as e:
            error = type(e).__name__
        finally:
            conn.close()
        self.last_status = status
        self.sent += 1
        self.journal.request(
            clerk=self.number,
            request=self.sent,
            location=location,
            kind=kind,
            method=method,
            path=path,
            status=status,
            error=error,
            started=started,
            ended=time.time(),
        )
        if status == 200 and (match := CSRF_RE.search(text)):
            self.csrf = match.group(1)
        if status in (302, 303) and path != "/login" and target(location) == "/login":
            # Not signed in (any more): the app did nothing but send us to sign in. Counted
            # in the figures; this clerk signs in again.
            self.journal.request_signed_out(self.number, path)
            self.cookies.clear()
            self.csrf = None
        return status, target(location), text

    def sign_in(self) -> bool:
        """Through the form; False (and no token, so the clerk tries again before doing
        anything) when any step had no good answer, e.g. its worker was killed."""
        self.cookies.clear()
        status, _, _ = self.call("sign-in", "GET", "/login")
        if status == 200:
            status, location, _ = self.call(
                "sign-in",
                "POST",
                "/login",
                fields={
                    "email": email(self.number),
                    "password": PASSWORD,
                    "csrf_token": self.csrf,
                },
            )
            if status == 303 and location != "/login" and self.fresh_token():
                return True
        self.csrf = None
        return False

    def fresh_token(self) -> bool:
        """Signing in starts a new session, and with it a new CSRF token: read it."""
        self.csrf = None
        status, _, _ = self.call("read page", "GET", "/hospitals/new")
        return status == 200 and self.csrf is not None

    def run(self) -> None:
        actions = [
            (self.register_hospital, 15),
            (self.add_report, 25),
            (self.edit_report, 30),
            (self.import_file, 10),
            (self.read, 20),
        ]
        while not self.stop.is_set():
            if self.csrf is None and not self.sign_in():
                time.sleep(0.5)
                continue
            action = self.rng.choices([a for a, _ in actions], [w for _, w in actions])[0]
            if self.registry.pick(self.rng) is None:
                action = self.register_hospital
            action()
            if self.last_status == 400:
                self.fresh_token()  # a refused token (should not happen): read a new one

    def day(self) -> date:
        return date.today() - timedelta(days=self.rng.randint(1, 25))

    def register_hospital(self) -> None:
        self.made += 1
        code = f"S{self.number:02d}-{self.made:04d}"
        if self.made > 1 and self.rng.random() < 0.05:
            code = f"S{self.number:02d}-{self.made - 1:04d}"  # taken already: a 422
        hospital = {
            "code": code,
            "name": f"Soak Hospital {self.number}-{self.made}",
            "region": self.rng.choice(("North", "South", "East", "West")),
            "city": "Testford",
            "ownership": "public",
        }
        report = {"report_date": self.day().isoformat(), **figures(self.rng), "notes": None}
        status, location, _ = self.call(
            "register hospital",
            "POST",
            "/hospitals/new",
            fields={**hospital, **report, "csrf_token": self.csrf},
        )
        if status == 303 and location and (match := HOSPITAL_RE.search(location)):
            self.registry.add(int(match.group(1)), code)
            self.journal.ack(self, kind="hospital", code=code, values=hospital)
            self.journal.ack(
                self,
                kind="report",
                code=code,
                report_date=report["report_date"],
                values={k: report[k] for k in (*COUNT_FIELDS, "notes")},
            )

    def add_report(self) -> None:
        hospital_id, code = self.registry.pick(self.rng)
        report = {
            "report_date": self.day().isoformat(),
            **figures(self.rng),
            "notes": self.rng.choice((None, f"entered by clerk {self.number}")),
        }
        status, location, _ = self.call(
            "add report",
            "POST",
            f"/hospitals/{hospital_id}/reports/new",
            fields={**report, "confirm_outlier": "y", "csrf_token": self.csrf},
        )
        if status == 303 and location == f"/hospitals/{hospital_id}":
            values = {k: report[k] for k in (*COUNT_FIELDS, "notes")}
            self.journal.ack(
                self, kind="report", code=code, report_date=report["report_date"], values=values
            )

    def edit_report(self) -> None:
        hospital_id, code = self.registry.pick(self.rng, busy=self.rng.random() < 0.5)
        status, _, text = self.call("read hospital", "GET", f"/hospitals/{hospital_id}")
        ids = REPORT_RE.findall(text) if status == 200 else []
        if not ids:
            return
        report_id = ids[0] if self.rng.random() < 0.6 else self.rng.choice(ids)
        status, _, text = self.call("open report", "GET", f"/reports/{report_id}/edit")
        version, day = VERSION_RE.search(text), DATE_RE.search(text)
        if status != 200 or not version or not day:
            return
        time.sleep(self.rng.random() * 0.3)  # a person typing: others may save meanwhile
        values = {
            **figures(self.rng),
            "notes": self.rng.choice((None, f"corrected by clerk {self.number}")),
        }
        status, location, _ = self.call(
            "edit report",
            "POST",
            f"/reports/{report_id}/edit",
            fields={
                "report_date": day.group(1),
                **values,
                "version": version.group(1),
                "confirm_outlier": "y",
                "csrf_token": self.csrf,
            },
        )
        if status == 303 and location == f"/hospitals/{hospital_id}":
            self.journal.ack(
                self, kind="report", code=code, report_date=day.group(1), values=values
            )

    def import_file(self) -> None:
        rows = {}
        for _ in range(self.rng.randint(1, 3)):
            _hospital_id, code = self.registry.pick(self.rng)
            for _ in range(self.rng.randint(1, 4)):
                rows[(code, self.day().isoformat())] = figures(self.rng)
        lines = ["hospital_code,report_date," + ",".join(COUNT_FIELDS) + ",notes"]
        for (code, day), values in rows.items():
            lines.append(f"{code},{day}," + ",".join(str(values[k]) for k in COUNT_FIELDS) + ",")
        boundary = secrets.token_hex(12)
        body = (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="csrf_token"\r\n\r\n'
            f"{self.csrf}\r\n"
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="soak.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n" + "\r\n".join(lines) + "\r\n"
            f"--{boundary}--\r\n"
        ).encode()
        status, location, _ = self.call(
            "import file",
            "POST",
            "/reports/import",
            body=body,
            content_type=f"multipart/form-data; boundary={boundary}",
        )
        if status == 303 and location == "/reports/import":
            for (code, day), values in rows.items():
                self.journal.ack(
                    self,
                    kind="report",
                    code=code,
                    report_date=day,
                    values={**values, "notes": None},
                )

    def read(self) -> None:
        hospital_id, _code = self.registry.pick(self.rng)
        path = self.rng.choice(
            ("/", "/hospitals", "/reports", "/audit", f"/hospitals/{hospital_id}", "/entry")
        )
        self.call("read page", "GET", path)


def target(location: str | None) -> str | None:
    """The path a redirect sends to (the app sends paths; a full URL is cut to its path)."""
    return urlsplit(location).path if location else None


def quote(text: str) -> str:
    from urllib.parse import quote_plus

    return quote_plus(text)


def email(number: int) -> str:
    return f"clerk{number}@soak.example.org"


# --- The servers ----------------------------------------------------------------------------


class Servers:
    """The processes this run starts, each in its own session, so that stopping one stops
    everything it forked (gunicorn's workers)."""

    def __init__(self, env: dict):
        self.env = env
        self.procs: dict[str, subprocess.Popen] = {}
        self.app_ports = [free_port(), free_port()]
        self.port = free_port()

    def start(self) -> None:
        for n, port in enumerate(self.app_ports, 1):
            env = {
                **self.env,
                "BIND": f"127.0.0.1:{port}",
                "WEB_CONCURRENCY": str(WORKERS),
                "ACCESS_LOG": str(OUT / f"app{n}-access.log"),
                "LOG_LEVEL": "warning",
            }
            log = open(OUT / f"app{n}.log", "w")  # noqa: SIM115 -- open as long as the server
            self.procs[f"app{n}"] = subprocess.Popen(
                [str(BIN / "gunicorn"), "wsgi:app"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        config = Template((Path(__file__).parent / "haproxy.cfg.in").read_text()).substitute(
            PORT=self.port, APP1=self.app_ports[0], APP2=self.app_ports[1]
        )
        (OUT / "haproxy.cfg").write_text(config)
        log = open(OUT / "haproxy.log", "w")  # noqa: SIM115
        self.procs["haproxy"] = subprocess.Popen(
            ["haproxy", "-f", str(OUT / "haproxy.cfg"), "-db"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for port in [*self.app_ports, self.port]:
            wait_for(port)

    def workers(self, name: str) -> list[int]:
        arbiter = self.procs[name].pid
        path = Path(f"/proc/{arbiter}/task/{arbiter}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def stop(self) -> None:
        for name in ("haproxy", "app1", "app2"):
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is None:
                proc.terminate()  # gunicorn: graceful; its workers finish their request
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=25)
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop in 25 s: killing its process group")
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for proc in self.procs.values():
            # Workers the arbiter did not take down with it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def wait_for(port: int, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"nothing answers /healthz on port {port} after {seconds} s")


# --- Faults ---------------------------------------------------------------------------------


def faults(servers: Servers, journal: Journal, start: float, seconds: float, stop) -> None:
    """Five worker kills and one database restart, at fixed points of the run."""
    plan = [(0.12, "kill"), (0.28, "kill"), (0.42, "kill"), (0.55, "restart")]
    plan += [(0.7, "kill"), (0.85, "kill")]
    rng = random.Random(0)  # noqa: S311
    for n, (at, what) in enumerate(plan):
        if stop.wait(max(0.0, start + at * seconds - time.time())):
            return
        if what == "kill":
            name = ("app1", "app2")[n % 2]
            workers = servers.workers(name)
            if workers:
                pid = rng.choice(workers)
                os.kill(pid, signal.SIGKILL)
                journal.kills.append({"at": time.time(), "server": name, "pid": pid})
        else:
            began = time.time()
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", pg_cluster(), "main", "restart"],
                check=False,
                capture_output=True,
            )
            while not pg_ready():
                time.sleep(0.1)
            journal.outage = (began, time.time())


# --- The run --------------------------------------------------------------------------------


def prepare(env: dict) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(env["DATABASE_URL"])
    engine = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    engine.dispose()
    subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    from flask import g

    from hospital_app import create_app
    from hospital_app.auth.passwords import hash_password
    from hospital_app.extensions import db
    from hospital_app.models import Account

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"], "SECRET_KEY": env["SECRET_KEY"]}
    )
    with app.app_context():
        g.audit_actor = "soak test"
        password_hash = hash_password(PASSWORD)
        for n in range(1, CLERKS + 1):
            db.session.add(
                Account(
                    email=email(n),
                    display_name=f"Clerk {n}",
                    password_hash=password_hash,
                    role="admin",
                )
            )
        db.session.commit()
        db.engine.dispose()


def classify(journal: Journal) -> dict:
    """The figures: every request by kind and status, and where each failure belongs."""
    outage = journal.outage
    kills = [k["at"] for k in journal.kills]
    by_kind = Counter(r["kind"] for r in journal.requests)
    statuses = Counter(str(r["status"] or r["error"]) for r in journal.requests)
    in_outage, by_kill, outside = Counter(), Counter(), []
    for r in journal.requests:
        failed = r["status"] is None or r["status"] >= 500
        if not failed:
            continue
        what = str(r["status"] or r["error"])
        if outage and r["started"] <= outage[1] and r["ended"] >= outage[0]:
            in_outage[what] += 1
        elif (r["status"] in (None, 502)) and any(r["started"] <= k <= r["ended"] for k in kills):
            by_kill[what] += 1
        else:
            outside.append(r)
    return {
        "by_kind": by_kind,
        "statuses": statuses,
        "in_outage": in_outage,
        "by_kill": by_kill,
        "outside": outside,
        "conflicts": sum(
            1 for r in journal.requests if r["status"] == 409 and r["kind"] == "edit report"
        ),
    }


def main() -> int:
    seconds = float(os.environ.get("SOAK_SECONDS", "120"))
    url = os.environ.get(
        "DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/hospital_soak"
    )
    name = url.rsplit("/", 1)[-1].split("?")[0]
    if "soak" not in name:
        # It is dropped and created again: never a database someone keeps.
        print(
            f"Refusing to run: DATABASE_URL names {name!r}; the soak test empties its "
            "database, so the name must contain 'soak'."
        )
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": url,
        # haproxy is the one proxy in front: the app reads the client from X-Forwarded-For.
        "PROXY_COUNT": "1",
    }
    if not pg_ready():
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", pg_cluster(), "main", "start"],
            check=True,
        )
        while not pg_ready():
            time.sleep(0.2)
    # A TERM (CI's timeout, a Ctrl-C) runs the `finally` below too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    journal, registry, stop = Journal(), Registry(), threading.Event()
    servers = Servers(env)
    clerks: list[Clerk] = []
    try:
        print(f"Soak: preparing {url.rsplit('/', 1)[-1]} …", flush=True)
        prepare(env)
        servers.start()
        print(
            f"Soak: haproxy on 127.0.0.1:{servers.port} → app servers on ports "
            f"{servers.app_ports[0]} and {servers.app_ports[1]} ({WORKERS} workers each); "
            f"{CLERKS} clerks for {seconds:.0f} s …",
            flush=True,
        )
        start = time.time()
        clerks = [Clerk(n, servers.port, journal, registry, stop) for n in range(1, CLERKS + 1)]
        for clerk in clerks:
            clerk.start()
        chaos = threading.Thread(
            target=faults, args=(servers, journal, start, seconds, stop), daemon=True
        )
        chaos.start()
        stop.wait(seconds)
        stop.set()
        for clerk in clerks:
            clerk.join(timeout=120)
        chaos.join(timeout=120)
        elapsed = time.time() - start
    finally:
        stop.set()
        servers.stop()
        if not pg_ready():
            print("Soak: PostgreSQL is down: starting it again")
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", pg_cluster(), "main", "start"],
                check=False,
            )
        write_journal(journal)

    check = subprocess.run(
        [
            str(BIN / "flask"),
            "--app",
            "wsgi",
            "check-integrity",
            "--expect",
            str(OUT / "acknowledged.jsonl"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    lost_match = re.search(r"rows lost: (\d+)", check.stdout)
    lost = int(lost_match.group(1)) if lost_match else -1
    return report(journal, classify(journal), elapsed, check, lost)


def write_journal(journal: Journal) -> None:
    with open(OUT / "requests.jsonl", "w") as file:
        file.writelines(json.dumps(r) + "\n" for r in journal.requests)
    with open(OUT / "acknowledged.jsonl", "w") as file:
        file.writelines(json.dumps(r) + "\n" for r in journal.acknowledged)
    (OUT / "faults.json").write_text(
        json.dumps({"kills": journal.kills, "outage": journal.outage}, indent=1)
    )


def report(journal: Journal, figures_: dict, elapsed: float, check, lost: int) -> int:
    outage = journal.outage
    total = len(journal.requests)
    lines = [
        "",
        f"Soak test: {total} requests in {elapsed:.0f} s ({total / elapsed:.0f}/s), "
        f"{CLERKS} clerks, 2 app servers × {WORKERS} workers behind haproxy",
        "  by kind: "
        + ", ".join(f"{k} {n}" for k, n in sorted(figures_["by_kind"].items(), key=str)),
        "  statuses: " + ", ".join(f"{k} {n}" for k, n in sorted(figures_["statuses"].items())),
        f"  edits refused as conflicts (409): {figures_['conflicts']}",
        f"  writes acknowledged: {len(journal.acknowledged)}",
        f"  requests sent to sign in again (session not recognised): {len(journal.signed_out)} "
        f"{journal.signed_out or ''}",
        f"  workers killed: {len(journal.kills)}; "
        f"failed requests in flight at a kill: {sum(figures_['by_kill'].values())} "
        f"{dict(figures_['by_kill']) or ''}",
        (
            f"  database restart: outage {outage[1] - outage[0]:.1f} s; 5xx or no answer inside "
            f"it: {sum(figures_['in_outage'].values())} {dict(figures_['in_outage']) or ''}"
            if outage
            else "  database restart: NOT DONE"
        ),
        f"  5xx or no answer outside the outage and the kills: {len(figures_['outside'])}",
        f"  rows lost: {lost if lost >= 0 else 'unknown (check-integrity did not say)'}",
        "",
        "check-integrity --expect:",
        *("  " + line for line in check.stdout.splitlines()[-40:]),
        *("  " + line for line in check.stderr.splitlines()[-20:]),
    ]
    for r in figures_["outside"][:20]:
        lines.append(f"  outside: {r['method']} {r['path']} → {r['status'] or r['error']}")
    ok = (
        not figures_["outside"]
        and lost == 0
        and check.returncode == 0
        # A run that wrote nothing, or made no fault, proves nothing.
        and outage is not None
        and journal.kills
        and journal.acknowledged
    )
    lines.append("Soak: PASSED" if ok else "Soak: FAILED")
    text = "\n".join(lines)
    print(text)
    (OUT / "summary.txt").write_text(text + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
