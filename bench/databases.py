"""The benchmark's three databases, made once and kept between runs (`make bench`,
bench_pages.py).

- big: 1,000 hospitals × 365 days of reports (seed-demo) and 300,000 audit entries;
- small: the same 1,000 hospitals at the start of their year, 4 days of reports, and 3,000
  audit entries (the same 100 : 1). Today's state is the same in both (the same hospitals
  still to report today): what grows between them is only the history. The pages that list
  hospitals (the list, reports, data entry, timeliness) are compared on it: they show the
  same rows;
- year: 10 hospitals × 365 days (3,650 reports, 3,000 audit entries). A hospital's page (25
  reports, a 90-day chart, a 13-week calendar) is compared on it: it draws the same days,
  which the small database has only 4 of. The dashboard is not: it lists the hospitals too
  (who has not reported, who is under pressure), which only small has as many of; its
  trends draw 4 days there, but each worker keeps the charts it drew, so a run measures
  showing them, not drawing them.

Each gets an administrator to sign in as. On SQLite the files live in instance/bench/; with
DATABASE_URL=postgresql+psycopg://…/NAME they are the databases NAME_big and NAME_small. A
stamp beside them (instance/bench/NAME.stamp) records what made them: the migration head, the
seed parameters and the day the reports end on (seed-demo ends them today, so yesterday's
database would have everyone missing today's report). When any of it differs, or the database
is gone, it is made again from nothing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import URL, make_url

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance" / "bench"
sys.path.insert(0, str(ROOT))

EMAIL, PASSWORD = "bench@example.org", "bench pass phrase"
# Bump when the way the data is made changes without its parameters changing (2: before it,
# bench runs wrote into the kept databases themselves).
DATA_FORMAT = 2


@dataclass(frozen=True)
class Size:
    name: str
    hospitals: int
    days: int
    # The same share on both: the same hospitals are still to report today in both.
    missing_today: int
    audit_rows: int

    @property
    def reports(self) -> int:
        """As seed-demo writes them: a report a day, but today's of the missing share."""
        return self.hospitals * self.days - round(self.hospitals * self.missing_today / 100)


BIG = Size("big", hospitals=1000, days=365, missing_today=20, audit_rows=300_000)
SMALL = Size("small", hospitals=1000, days=4, missing_today=20, audit_rows=3_000)
YEAR = Size("year", hospitals=10, days=365, missing_today=20, audit_rows=3_000)


def database_url(base: str | None, size: Size) -> str:
    """The URL of `size`'s database: a file in instance/bench/ without `base`, else `base`'s
    database name with _big or _small after it (PostgreSQL, MariaDB)."""
    if not base or base.startswith("sqlite"):
        return f"sqlite:///{INSTANCE / f'{size.name}.db'}"
    url = make_url(base)
    return url.set(database=f"{url.database}_{size.name}").render_as_string(hide_password=False)


def _stamp_path(url: URL) -> Path:
    name = Path(url.database).stem if url.get_backend_name() == "sqlite" else url.database
    return INSTANCE / f"{url.get_backend_name()}-{name}.stamp"


def _migration_head() -> str:
    from alembic.script import ScriptDirectory

    heads = ",".join(sorted(ScriptDirectory(str(ROOT / "migrations")).get_heads()))
    # And what the migrations say: a revision changed before it was released makes another
    # schema under the same head.
    digest = hashlib.sha256()
    for path in sorted((ROOT / "migrations" / "versions").glob("*.py")):
        digest.update(path.read_bytes())
    return f"{heads}:{digest.hexdigest()[:12]}"


def _wanted_stamp(size: Size, app) -> dict:
    from hospital_app import rules

    with app.app_context():
        today = rules.today().isoformat()
    return {"size": asdict(size), "head": _migration_head(), "ends": today, "format": DATA_FORMAT}


def recreate(url: URL) -> None:
    """An empty database at `url` (dropped first if it exists)."""
    if url.get_backend_name() == "sqlite":
        path = Path(url.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        return
    server = url.set(database="postgres" if url.get_backend_name() == "postgresql" else None)
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if url.get_backend_name() == "postgresql":
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
        else:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{url.database}`"))
            conn.execute(text(f"CREATE DATABASE `{url.database}` CHARACTER SET utf8mb4"))
    engine.dispose()


def _seed(app, size: Size) -> None:
    from flask import g
    from flask_migrate import upgrade

    from hospital_app.auth.passwords import hash_password
    from hospital_app.extensions import db
    from hospital_app.models import Account, AuditEntry

    with app.app_context():
        upgrade()
        started = time.perf_counter()
        result = app.test_cli_runner().invoke(
            args=[
                "seed-demo",
                "--hospitals",
                str(size.hospitals),
                "--days",
                str(size.days),
                "--missing-today",
                str(size.missing_today),
            ]
        )
        if result.exit_code != 0:
            sys.exit(f"seed-demo failed:\n{result.output}")
        seeded = time.perf_counter() - started
        g.audit_actor = "bench"
        user = Account(email=EMAIL, display_name="Bench", role="admin")
        user.password_hash = hash_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
        start = datetime(2025, 11, 24)
        # Spread over the hospitals and a year, like the trail of a year of edits.
        step = 100 * BIG.audit_rows // size.audit_rows
        for batch in range(0, size.audit_rows, 10_000):
            rows = [
                {
                    "created_at": start + timedelta(seconds=step * n),
                    "user_id": user.id,
                    "actor": "Bench <bench@example.org>",
                    "action": "update",
                    "record_type": "report",
                    "record_id": n,
                    "record_label": "report of 2026-01-01",
                    "hospital_id": n % size.hospitals + 1,
                    "changes": {"admissions": [1, 2]},
                }
                for n in range(batch, min(batch + 10_000, size.audit_rows))
            ]
            db.session.execute(insert(AuditEntry), rows)
        db.session.commit()
        db.engine.dispose()
    print(
        f"  seed-demo {size.hospitals:,} hospitals × {size.days} days: {seeded:.1f} s; "
        f"with {size.audit_rows:,} audit entries: {time.perf_counter() - started:.1f} s"
    )


def _usable(app) -> bool:
    """The database answers and holds the bench's account (a run that stopped half way
    through seeding left no stamp, or one that does not match)."""
    from hospital_app.extensions import db
    from hospital_app.models import Account

    try:
        with app.app_context():
            found = db.session.scalar(
                select(func.count()).select_from(Account).where(Account.email == EMAIL)
            )
            db.engine.dispose()
            return bool(found)
    except Exception:  # a missing database or table: make it again
        return False


def bench_app(url: str):
    """The app on `url`, for seeding and reading the targets of the writes (not served)."""
    from hospital_app import create_app

    # The secret key signs nothing here: this app is never served.
    return create_app(
        {"APP_ENV": "testing", "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-only"}
    )


def prepare(url: str, size: Size) -> None:
    """Make `size`'s database at `url` unless the one there was made the same way today."""
    parsed = make_url(url)
    app = bench_app(url)
    stamp_path = _stamp_path(parsed)
    wanted = _wanted_stamp(size, app)
    stored = json.loads(stamp_path.read_text()) if stamp_path.exists() else None
    if stored == wanted and _usable(app):
        return
    why = "none yet" if stored is None else "made differently or on another day"
    print(f"Making the {size.name} database ({why}): {parsed.render_as_string()}")
    stamp_path.unlink(missing_ok=True)
    recreate(parsed)
    app = bench_app(url)  # a fresh engine on the new database
    _seed(app, size)
    stamp_path.parent.mkdir(parents=True, exist_ok=True)
    stamp_path.write_text(json.dumps(wanted, indent=1))


def working_copy(url: str) -> str:
    """A copy of the database at `url` for one run to write in, made afresh each time (and
    its URL): the POSTs of a run add and change reports and audit entries, and the next run
    must start from the same data, not from a small database a fifth larger. SQLite copies the
    file (WAL files included, though closing the seeding connection folded them in); PostgreSQL
    makes NAME_run from NAME as a template (which must have no connection: none is kept)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        source = Path(parsed.database)
        target = source.with_name(f"{source.stem}-run{source.suffix}")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
            if Path(f"{source}{suffix}").exists():
                shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
        return parsed.set(database=str(target)).render_as_string(hide_password=False)
    copy = parsed.set(database=f"{parsed.database}_run")
    if parsed.get_backend_name() != "postgresql":
        # MariaDB has no template databases: the run writes in the kept one.
        return url
    engine = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{copy.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{copy.database}" TEMPLATE "{parsed.database}"'))
    engine.dispose()
    return copy.render_as_string(hide_password=False)


if __name__ == "__main__":  # e.g. python bench/databases.py [DATABASE_URL]: make both now
    base = sys.argv[1] if len(sys.argv) > 1 else None
    for each in (BIG, SMALL, YEAR):
        prepare(database_url(base, each), each)
