"""Write a large CSV file for `flask import-stats`, to measure the import (not a test).

    .venv/bin/python tests/make_import_csv.py /tmp/import-100k.csv --hospitals 1000 --days 100

Rows for the demo hospitals DEMO-0001 … (made by `flask --app wsgi seed-demo --hospitals N
--days 1`, whose one report is today's), one per hospital and day for the `--days` days ending
the day before yesterday, so none of them is stored yet. Every row obeys the rules of a
report; the figures are random but deterministic (--seed).
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hospital_app import rules

COLUMNS = ["hospital_code", "report_date", *rules.COUNT_FIELDS, "notes"]


def row(rng: random.Random, code: str, day: date) -> list:
    beds = rng.randint(40, 1500)
    occupied = rng.randint(0, beds)
    icu = rng.randint(0, beds // 10)
    icu_occupied = rng.randint(0, min(icu, occupied))
    vents = rng.randint(0, icu + 2)
    admissions = rng.randint(0, 60)
    return [
        code,
        day.isoformat(),
        beds,
        occupied,
        icu,
        icu_occupied,
        vents,
        rng.randint(0, vents),
        admissions,
        rng.randint(0, 60),
        rng.randint(0, 3),
        "" if rng.random() < 0.9 else "Ward 3 closed for cleaning",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--hospitals", type=int, default=1000)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--prefix", default="DEMO-")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rng = random.Random(args.seed)  # noqa: S311 -- measurement data, deterministic on purpose
    last = date.today() - timedelta(days=2)
    days = [last - timedelta(days=n) for n in range(args.days - 1, -1, -1)]
    with args.out.open("w", encoding="utf-8", newline="") as fh:
        fh.write("\ufeff")  # as the exports write it
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for day in days:
            for number in range(1, args.hospitals + 1):
                writer.writerow(row(rng, f"{args.prefix}{number:04d}", day))
    print(f"Wrote {args.hospitals * args.days:,} rows to {args.out}.")


if __name__ == "__main__":
    main()
