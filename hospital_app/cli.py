"""Command-line tasks: `flask --app wsgi seed-demo …`."""

from __future__ import annotations

import random
from datetime import date, timedelta

import click
from flask import Flask
from sqlalchemy import func, insert, select

from . import rules
from .extensions import db
from .models import Hospital, HospitalStats, utcnow

DEMO_PREFIX = "DEMO-"
REGIONS = (
    "Northern",
    "Southern",
    "Eastern",
    "Western",
    "Central",
    "Coastal",
    "Highlands",
    "Lakeside",
)
TOWN_START = (
    "Ash",
    "Brook",
    "Cedar",
    "Elm",
    "Fair",
    "Glen",
    "Hart",
    "Kings",
    "Lark",
    "Mill",
    "North",
    "Oak",
    "Pine",
    "Red",
    "Stone",
    "West",
    "Wil",
    "Yar",
)
TOWN_END = ("ford", "vale", "field", "bury", "ton", "wick", "mouth", "stead", "ham", "bridge")
KINDS = (
    "General Hospital",
    "Regional Hospital",
    "Community Hospital",
    "University Hospital",
    "Memorial Hospital",
    "Children's Hospital",
    "District Hospital",
)
OWNERSHIPS = ("public", "public", "public", "private", "non-profit")  # weighted: mostly public


def _hospital(rng: random.Random, number: int) -> dict:
    town = rng.choice(TOWN_START) + rng.choice(TOWN_END)
    return {
        "code": f"{DEMO_PREFIX}{number:04d}",
        "name": f"{town} {rng.choice(KINDS)}",
        "region": rng.choice(REGIONS),
        "city": town,
        "ownership": rng.choice(OWNERSHIPS),
    }


def _reports(rng: random.Random, hospital_id: int, first_day: date, days: int, now) -> list[dict]:
    """A plausible year of one hospital: capacity that rarely changes, occupancy that drifts
    around its own level with a weekly rhythm, flows in proportion to the patients."""
    beds = rng.choice((rng.randint(40, 150), rng.randint(150, 500), rng.randint(500, 1500)))
    icu = max(2, round(beds * rng.uniform(0.04, 0.12)))
    vents = max(1, round(icu * rng.uniform(0.6, 1.2)))
    level = rng.uniform(0.6, 0.88)
    occupancy, icu_rate = level, rng.uniform(0.5, 0.9)
    rows = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        if rng.random() < 0.005:  # now and then a ward opens or closes
            beds = max(icu, beds + rng.randint(-10, 20))
        occupancy += 0.2 * (level - occupancy) + rng.gauss(0, 0.025)
        occupancy = min(max(occupancy, 0.3), 1.0)
        weekday_dip = 0.04 if day.weekday() >= 5 else 0.0
        occupied = min(beds, round(beds * max(occupancy - weekday_dip, 0)))
        icu_rate = min(max(icu_rate + rng.gauss(0, 0.04), 0.2), 1.0)
        icu_occupied = min(icu, occupied, round(icu * icu_rate))
        admissions = max(0, round(occupied / rng.uniform(4, 6) + rng.gauss(0, 2)))
        rows.append(
            {
                "hospital_id": hospital_id,
                "report_date": day,
                "beds_total": beds,
                "beds_occupied": occupied,
                "icu_beds_total": icu,
                "icu_beds_occupied": icu_occupied,
                "ventilators_total": vents,
                "ventilators_in_use": min(vents, round(icu_occupied * rng.uniform(0.3, 0.7))),
                "admissions": admissions,
                "discharges": max(0, round(admissions * rng.uniform(0.85, 1.15))),
                "deaths": max(0, round(admissions * rng.uniform(0, 0.04))),
                "notes": None,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
    return rows


def seed_demo(hospitals: int, days: int, seed: int, batch: int = 50) -> int:
    """Write `hospitals` demo hospitals with `days` daily reports each, ending today.
    Commits once per batch of hospitals; returns the number of reports written."""
    rng = random.Random(seed)  # noqa: S311 -- demo data, deterministic on purpose
    first_day = rules.today() - timedelta(days=days - 1)
    now = utcnow()
    written = 0
    with click.progressbar(length=hospitals, label="Hospitals", show_pos=True) as bar:
        for start in range(1, hospitals + 1, batch):
            numbers = range(start, min(start + batch, hospitals + 1))
            rows = [Hospital(**_hospital(rng, n), is_active=True) for n in numbers]
            db.session.add_all(rows)
            db.session.flush()  # assigns the ids the reports refer to
            reports = [r for h in rows for r in _reports(rng, h.id, first_day, days, now)]
            if reports:
                # Core executemany on the table: the ORM's bulk path costs more per row.
                db.session.execute(insert(HospitalStats.__table__), reports)
            db.session.commit()
            db.session.expunge_all()
            written += len(reports)
            bar.update(len(rows))
    return written


def init_app(app: Flask) -> None:
    @app.cli.command("seed-demo")
    @click.option("--hospitals", default=50, show_default=True, type=click.IntRange(1, 100_000))
    @click.option(
        "--days",
        default=90,
        show_default=True,
        type=click.IntRange(1, 3660),
        help="Daily reports per hospital, ending today.",
    )
    @click.option("--seed", default=1, show_default=True, help="The same seed gives the same data.")
    def seed_demo_command(hospitals: int, days: int, seed: int) -> None:
        """Fill the database with realistic demo hospitals and their daily reports."""
        existing = db.session.scalar(
            select(func.count()).select_from(Hospital).where(Hospital.code.startswith(DEMO_PREFIX))
        )
        if existing:
            raise click.ClickException(
                f"The database already holds {existing} demo hospitals ({DEMO_PREFIX}…); "
                "seed-demo only adds them to a database that has none."
            )
        written = seed_demo(hospitals, days, seed)
        click.echo(f"Wrote {hospitals:,} hospitals and {written:,} reports.")
