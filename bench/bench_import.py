"""How fast the CSV import is, on a lot of data: not a test (pytest does not collect it), and
no assertion on time.

    .venv/bin/python bench/bench_import.py [--database-url URL] [--rows 100000] [--json]

On an empty migrated database (a fresh SQLite file when no URL is given) it runs
`seed-demo --hospitals 1000 --days 1`, writes files with bench/make_import_csv.py, and runs
`flask import-reports` (cli.py: the page's importer, then one commit) four times, each in
its own process so that each case's peak memory is its own:

- all new: the file's rows, none stored yet (committed: a real import);
- all identical: the same file again (nothing written);
- all changed: the same hospitals and days with other figures (committed);
- dry run: the first file checked against the changed data (every row an update, rolled back).

A database that holds reports of an earlier run has them deleted first (reports older than
seed-demo's, their follow-ups and audit entries), so that "all new" is new again.
Prints rows, seconds (the command alone, without starting Python), rows per second, the
process's peak memory (max RSS) and its CPU time (the database server's not included); with
--json one JSON object per line instead.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

HOSPITALS = 1000


def _app(url: str):
    from hospital_app import create_app

    return create_app({"APP_ENV": "testing", "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x"})


def prepare(url: str) -> None:
    """Migrate, seed the hospitals once, and remove what an earlier run imported."""
    from flask_migrate import upgrade
    from sqlalchemy import delete, func, select

    from hospital_app.extensions import db
    from hospital_app.models import AuditEntry, FollowUp, Hospital, Report

    app = _app(url)
    with app.app_context():
        upgrade()
        if not db.session.scalar(select(func.count()).select_from(Hospital)):
            result = app.test_cli_runner().invoke(
                args=["seed-demo", "--hospitals", str(HOSPITALS), "--days", "1"]
            )
            if result.exit_code != 0:
                sys.exit(f"seed-demo failed:\n{result.output}")
            return
        seeded = db.session.scalar(select(func.max(Report.report_date)))
        old = select(Report.id).where(Report.report_date < seeded)
        db.session.execute(delete(FollowUp).where(FollowUp.report_id.in_(old)))
        db.session.execute(
            delete(AuditEntry).where(
                AuditEntry.record_type.in_(["report", "follow-up"]), AuditEntry.actor != "system"
            )
        )
        db.session.execute(delete(Report).where(Report.report_date < seeded))
        db.session.commit()


def run_case(url: str, path: str, dry_run: bool) -> None:
    """In the child: one `flask import-reports`, timed; prints its seconds as JSON."""
    app = _app(url)
    runner = app.test_cli_runner()
    args = ["import-reports", path, *(["--dry-run"] if dry_run else [])]
    started = time.perf_counter()
    result = runner.invoke(args=args)
    seconds = time.perf_counter() - started
    if result.exit_code != 0:
        sys.exit(f"import-reports failed:\n{result.output}")
    print(json.dumps({"seconds": seconds, "output": result.output.strip().splitlines()[-1]}))


def measure(url: str, path: Path, dry_run: bool) -> tuple[float, float, float, str]:
    """(seconds, CPU seconds, peak MB, the command's last line) of one case, in a process of
    its own. The CPU seconds are the whole process's (its start included): on a busy
    machine they say what the import costs better than the clock does."""
    child = subprocess.Popen(  # noqa: S603 -- our own script, our own arguments
        [sys.executable, __file__, "--database-url", url, "--case-file", str(path)]
        + (["--dry-run"] if dry_run else []),
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    out = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.exit(f"case {path} failed ({child.returncode})")
    found = json.loads(out.decode().strip().splitlines()[-1])
    cpu = usage.ru_utime + usage.ru_stime
    return found["seconds"], cpu, usage.ru_maxrss / 1024, found["output"]  # Linux: kB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--case-file", help=argparse.SUPPRESS)
    parser.add_argument("--dry-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case_file:
        run_case(args.database_url, args.case_file, args.dry_run)
        return

    from make_import_csv import write

    with tempfile.TemporaryDirectory(prefix="bench-import-") as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.sqlite"
        prepare(url)
        days = max(1, args.rows // HOSPITALS)
        first, other = Path(folder, "first.csv"), Path(folder, "other.csv")
        rows = write(first, HOSPITALS, days, seed=1)
        write(other, HOSPITALS, days, seed=2)
        for case, path, dry_run in (
            ("all new", first, False),
            ("all identical", first, False),
            ("all changed", other, False),
            ("dry run", first, True),
        ):
            seconds, cpu, peak_mb, said = measure(url, path, dry_run)
            figures = {
                "case": case,
                "rows": rows,
                "seconds": round(seconds, 2),
                "rows_per_s": round(rows / seconds),
                "peak_mb": round(peak_mb),
                "cpu_s": round(cpu, 2),
            }
            if args.json:
                print(json.dumps(figures), flush=True)
            else:
                print(
                    f"{case:14} {rows:>9,} rows {seconds:7.2f} s {rows / seconds:>9,.0f} rows/s "
                    f"{peak_mb:5.0f} MB peak {cpu:7.2f} s CPU   ({said})",
                    flush=True,
                )


if __name__ == "__main__":
    main()
