"""Time and profile pages in-process (Flask test client), signed in: not a test, no assertion
on time. For finding where a page's time goes before `make bench` measures it under load.

    .venv/bin/python bench/profile_pages.py sqlite:////tmp/copy-of-big.db /hospitals?page=20
    .venv/bin/python bench/profile_pages.py --profile URL PATH…   # cProfile, by cumulative time

Run it on a COPY of a database made by bench/bench_pages.py (1,000 hospitals × 365 days and
the account bench@example.org): it signs in through the login form. It prints, per path, the
CPU time per request (min and median of rounds: on a machine shared with other jobs the
min is the steadier figure) and the Python function calls per request (cProfile's count,
the same on every run whatever the load).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hospital_app import create_app

EMAIL, PASSWORD = "bench@example.org", "bench pass phrase"


def signed_in_client(url: str):
    app = create_app(
        {"APP_ENV": "production", "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "k" * 64}
    )
    client = app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").text)
    response = client.post(
        "/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    if response.status_code != 303:
        sys.exit(f"sign-in failed ({response.status_code}): is {EMAIL} in this database?")
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the database URL (a copy: sign-in writes to it)")
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--per-round", type=int, default=10)
    parser.add_argument("--profile", action="store_true", help="print a cProfile per path")
    args = parser.parse_args()
    client = signed_in_client(args.url)
    for path in args.paths:
        for _ in range(10):  # warm up: templates compiled, statements cached
            response = client.get(path)
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.per_round):
            client.get(path)
        profile.disable()
        stats = pstats.Stats(profile)
        if args.profile:
            stats.sort_stats("cumulative").print_stats(60)
        times = []
        for _ in range(args.rounds):
            started = time.process_time()
            for _ in range(args.per_round):
                client.get(path)
            times.append(1000 * (time.process_time() - started) / args.per_round)
        print(
            f"{path} {response.status_code}: {min(times):.2f} ms CPU/request min, "
            f"{statistics.median(times):.2f} median; "
            f"{stats.total_calls / args.per_round:,.0f} function calls/request"
        )


if __name__ == "__main__":
    main()
