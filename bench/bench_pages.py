"""Page times in-process, on the benchmark's big database, for profiling one page at a time:
not a test (pytest does not collect it) and no assertion on time. `make bench` (bench/bench.py)
is the benchmark; this is the quick look beside it.

    .venv/bin/python bench/bench_pages.py [DATABASE_URL]

It makes or reuses the big database of bench/databases.py (1,000 hospitals × 365 days and
300,000 audit entries: instance/bench/big.db, or NAME_big beside DATABASE_URL's NAME), signs
in through the login form and prints the mean time of each page over 20 requests (Flask test
client), and the time of each full CSV export.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from databases import BIG, EMAIL, PASSWORD, bench_app, database_url, prepare, working_copy
from sqlalchemy import func, select

from hospital_app import rules
from hospital_app.extensions import db
from hospital_app.models import Account, Hospital


def main(url: str) -> None:
    prepare(url, BIG)
    app = bench_app(working_copy(url))  # signing in writes: the kept database stays as made
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
    main(database_url(sys.argv[1] if len(sys.argv) > 1 else None, BIG))
