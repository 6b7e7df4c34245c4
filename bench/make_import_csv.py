"""Write a large CSV file for `flask import-stats`, to measure the import (not a test).

    .venv/bin/python bench/make_import_csv.py /tmp/import-100k.csv --hospitals 1000 --days 100

Rows for the demo hospitals DEMO-0001 … (made by `flask --app wsgi seed-demo --hospitals N
--days 1`, whose one report is today's), one per hospital and day for the `--days` days ending
the day before yesterday, so none of them is stored yet. Every row obeys the rules of a
report; the figures are random but deterministic (--seed): each hospital's vary around its
own usual load, as real ones do.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hospital_app.reports.importer import COLUMNS as REPORT_COLUMNS

COLUMNS = REPORT_COLUMNS


def today() -> date:
    """Today as the app counts it (and seed-demo with it): in the time zone TIMEZONE names,
    the server's own when it is unset."""
    zone = os.environ.get("TIMEZONE") or None
    return datetime.now(ZoneInfo(zone) if zone else None).date()


class Hospital:
    """A hospital's fixed capacity and usual load, drawn once: its days vary around them, as
    real figures do, so the import's check of unusual figures flags few rows."""

    def __init__(self, rng: random.Random, code: str):
        self.code = code
        self.beds = rng.randint(40, 1500)
        self.icu = rng.randint(0, self.beds // 10)
        self.vents = rng.randint(0, self.icu + 2)
        self.load = rng.uniform(0.5, 0.85)  # usual share of beds occupied
        self.admissions = rng.randint(5, 60)
        self.occupied = round(self.beds * self.load)

    def row(self, rng: random.Random, day: date) -> list:
        # Today's occupied beds are yesterday's + admitted − discharged − died (the census
        # check, rules.census_gap), with discharges drifting the load back to its usual share.
        admissions = max(0, round(rng.gauss(self.admissions, self.admissions * 0.1)))
        deaths = rng.randint(0, 1)
        drift = round((self.occupied - self.beds * self.load) * 0.1)
        discharges = max(0, admissions - deaths + drift + rng.randint(-2, 2))
        occupied = self.occupied + admissions - discharges - deaths
        occupied = min(self.beds, max(0, occupied))
        discharges = self.occupied + admissions - deaths - occupied  # what the bounds leave
        if discharges < 0:  # a full hospital admits no more than it discharges
            admissions -= discharges
            discharges = 0
        self.occupied = occupied
        icu_occupied = min(self.icu, occupied, max(0, round(self.icu * self.load)))
        return [
            self.code,
            day.isoformat(),
            self.beds,
            occupied,
            self.icu,
            icu_occupied,
            self.vents,
            min(self.vents, round(self.vents * self.load)),
            admissions,
            discharges,
            deaths,
            "" if rng.random() < 0.9 else "Ward 3 closed for cleaning",
        ]


def write(
    out: Path, hospitals: int = 1000, days: int = 100, prefix: str = "DEMO-", seed: int = 1
) -> int:
    """Write the file (as main() does) and return its number of rows. Another --seed gives
    the same hospitals and days with other figures: a file that changes every row."""
    rng = random.Random(seed)  # noqa: S311 -- measurement data, deterministic on purpose
    last = today() - timedelta(days=2)
    dates = [last - timedelta(days=n) for n in range(days - 1, -1, -1)]
    with out.open("w", encoding="utf-8", newline="") as fh:
        fh.write("\ufeff")  # as the exports write it
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        made = [Hospital(rng, f"{prefix}{number:04d}") for number in range(1, hospitals + 1)]
        for day in dates:
            for hospital in made:
                writer.writerow(hospital.row(rng, day))
    return hospitals * days


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--hospitals", type=int, default=1000)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--prefix", default="DEMO-")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rows = write(args.out, args.hospitals, args.days, args.prefix, args.seed)
    print(f"Wrote {rows:,} rows to {args.out}.")


if __name__ == "__main__":
    main()
