"""Page times on a large database, for the closing notes: not a test (pytest does not collect
it) and no assertion on time.

    .venv/bin/python bench/bench_pages.py DATABASE_URL

On a migrated database with no hospitals it first runs seed-demo (1,000 hospitals × 365 days)
and adds 300,000 audit entries; then it signs in through the login form and prints the mean
time of each page over 20 requests (Flask test client), and the time of each full CSV export.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade
from sqlalchemy import func, insert, select

from hospital_app import create_app, rules
from hospital_app.auth.passwords import hash_password
from hospital_app.extensions import db
from hospital_app.models import Account, AuditEntry, Hospital

EMAIL, PASSWORD = "bench@example.org", "bench pass phrase"
AUDIT_ROWS = 300_000


def prepare(app) -> None:
    with app.app_context():
        upgrade()
        if db.session.scalar(select(func.count()).select_from(Hospital)):
            return
        started = time.perf_counter()
        result = app.test_cli_runner().invoke(
            args=["seed-demo", "--hospitals", "1000", "--days", "365"]
        )
        if result.exit_code != 0:
            sys.exit(f"seed-demo failed:\n{result.output}")
        print(f"seed-demo 1000 × 365: {time.perf_counter() - started:.1f} s")
        user = Account(email=EMAIL, display_name="Bench", role="admin")
        user.password_hash = hash_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
        start = datetime(2025, 11, 24)
        for batch in range(0, AUDIT_ROWS, 10_000):
            rows = [
                {
                    "created_at": start + timedelta(seconds=100 * n),
                    "user_id": user.id,
                    "actor": "Bench <bench@example.org>",
                    "action": "update",
                    "record_type": "report",
                    "record_id": n,
                    "record_label": "report of 2026-01-01",
                    "hospital_id": n % 1000 + 1,
                    "changes": {"admissions": [1, 2]},
                }
                for n in range(batch, batch + 10_000)
            ]
            db.session.execute(insert(AuditEntry), rows)
        db.session.commit()


def main(url: str) -> None:
    app = create_app({"APP_ENV": "testing", "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x"})
    prepare(app)
    client = app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").text)
    started = time.perf_counter()
    signed_in = client.post(
        "/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    print(f"sign-in {signed_in.status_code}: {1000 * (time.perf_counter() - started):.0f} ms")
    with app.app_context():
        hospital_id = db.session.scalar(select(func.min(Hospital.id)))
        user_id = db.session.scalar(select(Account.id).where(Account.email == EMAIL))
        yesterday = rules.today() - timedelta(days=1)
        year_ago = yesterday - timedelta(days=364)  # 365 days: the longest range but one
    for path in (
        "/",
        "/?days=90",
        "/?days=365",
        "/hospitals",
        "/hospitals?sort=-occupancy",
        "/hospitals?sort=region&status=all",
        "/timeliness",
        "/timeliness?sort=-missing",
        f"/timeliness?from={year_ago.isoformat()}&to={yesterday.isoformat()}",
        f"/hospitals/{hospital_id}",
        f"/hospitals/{hospital_id}/history",
        "/reports",
        "/reports?page=500",
        "/reports?region=Northern",
        "/reports?hospital=DEMO-0001",
        "/reports?date_from=2026-03-01&date_to=2026-03-31",
        "/accounts",
        "/audit",
        "/audit?page=500",
        "/audit?record_type=report",
        f"/audit?user={user_id}",
        "/audit?date_from=2026-03-01&date_to=2026-03-02",
    ):
        client.get(path)  # warm up
        times = []
        for _ in range(20):
            started = time.perf_counter()
            status = client.get(path).status_code
            times.append(1000 * (time.perf_counter() - started))
        print(f"{path} {status}: {statistics.mean(times):.1f} ms")
    for path in (
        "/hospitals/export.csv?status=all",
        "/reports/export.csv",
        "/timeliness/export.csv",
    ):
        started = time.perf_counter()
        response = client.get(path)
        rows = sum(chunk.count(b"\n") for chunk in response.response) - 1
        print(f"{path}: {rows:,} rows in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1])
