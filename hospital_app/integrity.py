"""`flask --app wsgi check-integrity [--expect FILE]`: does the data obey every invariant the
app keeps, and does it hold every write the app acknowledged?

The invariants, as the app keeps them (models.py, saving.py, audit/trail.py):
- no orphans: every report's hospital, every editor link's account and hospital, every audit
  entry's account, every closing exception's hospital and every reminder's account exist;
- a hospital is saved with its first report, in one transaction: the trail's creation of each
  hospital has a report's creation beside it (same hospital, same flush, so the same time;
  MariaDB keeps whole seconds, so there a report added within the second passes too), and a
  hospital has a report now unless the trail shows its reports deleted;
- every hospital, report and account row was created through the trail (a "create" entry),
  and replaying its entries gives the row's values as stored; a record the trail created and
  never deleted still exists, one it deleted does not;
- versions: every UPDATE of a hospital or report is audited, so its version is 1 + the
  changes the trail lists since its creation (an account's can be more: signing in and the
  session generation raise it unaudited);
- uniqueness: hospital codes (upper-case), account emails (lower-case), one report per
  hospital and day;
- the daily sums per region and the weekly counts per hospital (region_days and
  hospital_weeks, summary.py) equal the sums of the reports they stand for.

--expect FILE (JSON lines, as bench/soak/soak.py writes them) lists acknowledged writes:
{"kind": "hospital", "code": …, "values": {…}} or {"kind": "report", "code": …,
"report_date": "YYYY-MM-DD", "values": {…}}. Each must be found: the record exists (or the
trail deleted it later), and at some point of its history it held exactly the values
acknowledged. A write whose request got no answer is not listed: it may or may not be there.

Everything is read in a few queries and compared in Python: a soak's database is small, and
the same code then works on SQLite, PostgreSQL and MariaDB alike.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from . import rules, summary
from .extensions import db
from .models import (
    Account,
    AuditEntry,
    ClosingException,
    Hospital,
    Reminder,
    Report,
    hospital_editors,
)

# The fields of each record the trail's values are compared on: those audit/trail.py writes,
# but an account's hospitals (written as codes, which a hospital's later rename changes) and
# its password (never written).
COMPARED = {
    "hospital": ("code", "name", "region", "city", "ownership", "is_active"),
    "report": (
        "hospital_id",
        "report_date",
        *rules.COUNT_FIELDS,
        "notes",
        "outlier_confirmed",
        "outlier_note",
    ),
    "account": ("email", "display_name", "role", "is_active"),
}
TABLES = {"hospital": Hospital.__table__, "report": Report.__table__, "account": Account.__table__}


def _plain(value: Any) -> Any:
    """A stored value as the trail writes it (audit.trail._plain)."""
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return value


@dataclass
class History:
    """One record's trail, replayed: its states after each entry (None: deleted)."""

    states: list[dict | None] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    # Entries that changed the record since its last creation (each raised its version).
    changes_since_create: int = 0

    @property
    def created(self) -> bool:
        return "create" in self.actions

    @property
    def current(self) -> dict | None:
        return self.states[-1] if self.states else None


@dataclass
class Result:
    violations: list[str] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    acknowledged: int = 0
    lost: int = 0

    def add(self, kind: str, text: str) -> None:
        self.counts[kind] += 1
        self.violations.append(f"[{kind}] {text}")

    @property
    def ok(self) -> bool:
        return not self.violations


def _histories(entries) -> dict[tuple[str, int], History]:
    histories: dict[tuple[str, int], History] = defaultdict(History)
    for entry in entries:
        if entry.record_type not in COMPARED:
            continue
        history = histories[(entry.record_type, entry.record_id)]
        history.actions.append(entry.action)
        new_values = {name: pair[1] for name, pair in (entry.changes or {}).items()}
        if entry.action == "create":
            # An id used again (SQLite may, after the highest row was deleted) starts afresh.
            state = new_values
            history.changes_since_create = 0
        elif entry.action == "delete":
            state = None
        else:
            state = {**(history.current or {}), **new_values}
            history.changes_since_create += 1
        history.states.append(state)
    return histories


def check(expect: list[dict] | None = None) -> Result:
    """Every check, on the app's database; nothing is written."""
    result = Result()
    session = db.session
    rows = {
        kind: {row.id: row for row in session.execute(select(table)).all()}
        for kind, table in TABLES.items()
    }
    hospitals, reports, accounts = rows["hospital"], rows["report"], rows["account"]
    entries = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
    histories = _histories(entries)
    result.counts.update(
        {
            "hospitals": len(hospitals),
            "reports": len(reports),
            "accounts": len(accounts),
            "audit entries": len(entries),
        }
    )
    _orphans(result, hospitals, reports, accounts, entries)
    _first_reports(result, hospitals, reports, entries)
    _trail(result, rows, histories)
    _uniqueness(result, hospitals, reports, accounts)
    _region_days(result)
    if expect is not None:
        _acknowledged(result, expect, hospitals, reports, histories)
    return result


def _orphans(result: Result, hospitals, reports, accounts, entries) -> None:
    for report in reports.values():
        if report.hospital_id not in hospitals:
            result.add(
                "orphan",
                f"report {report.id} ({report.report_date}) belongs to hospital "
                f"{report.hospital_id}, which does not exist",
            )
    for link in db.session.execute(select(hospital_editors)).all():
        if link.user_id not in accounts or link.hospital_id not in hospitals:
            result.add(
                "orphan",
                f"editor link account {link.user_id} → hospital {link.hospital_id} names "
                "a missing account or hospital",
            )
    for entry in entries:
        if entry.user_id is not None and entry.user_id not in accounts:
            result.add(
                "orphan", f"audit entry {entry.id} names account {entry.user_id}, which is missing"
            )
    for row in db.session.execute(select(ClosingException.__table__)).all():
        if row.hospital_id not in hospitals:
            result.add(
                "orphan",
                f"closing exception {row.id} belongs to hospital {row.hospital_id}, "
                "which does not exist",
            )
    for row in db.session.execute(select(Reminder.__table__)).all():
        if row.account_id not in accounts:
            result.add(
                "orphan",
                f"reminder {row.id} was for account {row.account_id}, which does not exist",
            )


def _first_reports(result: Result, hospitals, reports, entries) -> None:
    with_reports = {r.hospital_id for r in reports.values()}
    # (hospital id, when) of every report's creation, and the hospitals whose reports the
    # trail deleted.
    report_created = set()
    report_deleted = set()
    hospital_created = {}
    for entry in entries:
        if entry.record_type == "report" and entry.action == "create":
            report_created.add((entry.hospital_id, entry.created_at))
        elif entry.record_type == "report" and entry.action == "delete":
            report_deleted.add(entry.hospital_id)
        elif entry.record_type == "hospital" and entry.action == "create":
            hospital_created[entry.record_id] = entry.created_at
    for hospital in hospitals.values():
        label = f"hospital {hospital.id} {hospital.code}"
        if hospital.id not in with_reports and hospital.id not in report_deleted:
            result.add("first report", f"{label} has no report, and none was deleted")
        when = hospital_created.get(hospital.id)
        if when is not None and (hospital.id, when) not in report_created:
            result.add("first report", f"{label} was created without its first report")


def _trail(result: Result, rows: dict, histories: dict) -> None:
    for kind, fields in COMPARED.items():
        stored = rows[kind]
        for record_id, row in stored.items():
            label = f"{kind} {record_id}"
            history = histories.get((kind, record_id))
            if history is None or not history.created:
                result.add("audit", f"{label} has no creating audit entry")
                continue
            state = history.current
            if state is None:
                result.add("audit", f"{label} exists, but the trail's last entry deleted it")
                continue
            differing = [
                f"{name}: stored {_plain(getattr(row, name))!r}, trail {state.get(name)!r}"
                for name in fields
                if _plain(getattr(row, name)) != state.get(name)
            ]
            if differing:
                result.add(
                    "audit",
                    f"{label} differs from its trail's newest values: {'; '.join(differing)}",
                )
            expected = 1 + history.changes_since_create
            if row.version != expected and (kind != "account" or row.version < expected):
                result.add(
                    "version",
                    f"{label} is at version {row.version}, but its trail lists "
                    f"{history.changes_since_create} change(s) since its creation "
                    f"(version {expected})",
                )
        for (record_kind, record_id), history in histories.items():
            if record_kind == kind and record_id not in stored and history.current is not None:
                result.add(
                    "lost",
                    f"{kind} {record_id} was created according to the trail and never "
                    "deleted, but it does not exist",
                )


def _uniqueness(result: Result, hospitals, reports, accounts) -> None:
    codes = Counter(h.code.upper() for h in hospitals.values())
    for code, n in codes.items():
        if n > 1:
            result.add("unique", f"{n} hospitals have the code {code}")
    for hospital in hospitals.values():
        if hospital.code != hospital.code.upper():
            result.add(
                "unique", f"hospital {hospital.id}'s code {hospital.code!r} is not upper-case"
            )
    emails = Counter(a.email.lower() for a in accounts.values())
    for email, n in emails.items():
        if n > 1:
            result.add("unique", f"{n} accounts have the email {email}")
    days = Counter((r.hospital_id, r.report_date) for r in reports.values())
    for (hospital_id, day), n in days.items():
        if n > 1:
            result.add("unique", f"hospital {hospital_id} has {n} reports for {day}")


def _region_days(result: Result) -> None:
    for table, key, stored, expected in summary.differences():
        if table == "region_days":
            day, region, active = key
            where = f"{day}, {region} ({'active' if active else 'archived'})"
            names = summary.SUMS
        else:
            hospital_id, week = key
            where = f"hospital {hospital_id}, week of {week}"
            names = summary.WEEK_SUMS
        result.add(
            "summary",
            f"{table} of {where} holds {stored or 'nothing'}, "
            f"but the reports add up to {expected} ({', '.join(names)})",
        )


def _acknowledged(result: Result, expect: list[dict], hospitals, reports, histories) -> None:
    by_code = {h.code: h.id for h in hospitals.values()}
    report_ids = {(r.hospital_id, _plain(r.report_date)): r.id for r in reports.values()}
    # A record gone since is looked up in the trail: the records each key ever named.
    named = {}
    for (kind, record_id), history in histories.items():
        for state in history.states:
            if state is None:
                continue
            key = (
                ("hospital", state.get("code"))
                if kind == "hospital"
                else ("report", state.get("hospital_id"), state.get("report_date"))
            )
            named.setdefault(key, []).append(record_id)
    for ack in expect:
        result.acknowledged += 1
        kind = ack["kind"]
        if kind == "hospital":
            label = f"hospital {ack['code']}"
            record_id = by_code.get(ack["code"])
            key = ("hospital", ack["code"])
        else:
            label = f"report of {ack['report_date']} of {ack['code']}"
            hospital_id = by_code.get(ack["code"])
            record_id = report_ids.get((hospital_id, ack["report_date"]))
            key = ("report", hospital_id, ack["report_date"])
        candidates = [record_id] if record_id is not None else []
        if record_id is None:
            # Gone since: acceptable only when the trail deleted it.
            candidates = [i for i in named.get(key, []) if histories[(kind, i)].current is None]
        if not candidates:
            result.lost += 1
            result.add("lost", f"{label} was acknowledged but does not exist")
            continue
        wanted = ack["values"]
        held = any(
            state is not None and all(state.get(k) == v for k, v in wanted.items())
            for i in candidates
            for state in histories.get((kind, i), History()).states
        )
        if not held:
            result.lost += 1
            result.add("lost", f"{label} never held the values acknowledged: {json.dumps(wanted)}")


def read_expect(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


@click.command("check-integrity")
@click.option(
    "--expect",
    "expect_path",
    type=click.Path(exists=True, dir_okay=False),
    help="A JSON lines file of acknowledged writes that must be in the database.",
)
@with_appcontext
def check_integrity_command(expect_path: str | None) -> None:
    """Check every invariant of the data (and, with --expect, that every acknowledged write
    is stored); print each violation and a summary. Exits 1 on any violation."""
    result = check(read_expect(expect_path) if expect_path else None)
    for line in result.violations:
        click.echo(line)
    c = result.counts
    click.echo(
        f"Checked {c['hospitals']} hospitals, {c['reports']} reports, {c['accounts']} accounts "
        f"and {c['audit entries']} audit entries."
    )
    if expect_path:
        click.echo(f"Acknowledged writes: {result.acknowledged} checked, rows lost: {result.lost}.")
    if result.ok:
        click.echo("Integrity: OK")
        return
    kinds = ", ".join(
        f"{c[k]} {k}"
        for k in ("orphan", "first report", "audit", "version", "lost", "unique", "summary")
        if c[k]
    )
    click.echo(f"Integrity: {len(result.violations)} violation(s) ({kinds})")
    raise SystemExit(1)
