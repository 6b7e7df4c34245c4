"""Command-line tasks: `flask --app wsgi seed-demo …`, `create-user …`, `create-dev-admin`,
`import-reports FILE`, `send-reminders`, `check-integrity` (integrity.py). Each command commits
its own work, once it is complete; send-reminders commits twice per editor (the claim, then the
outcome), as reminders/sending.py explains."""

from __future__ import annotations

import functools
import os
import random
import secrets
import sys
from contextlib import ExitStack
from datetime import date, timedelta

import click
from flask import Flask, current_app, g
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from . import backup, cycle, deploy, integrity, mail, policy, rules, summary
from .accounts.checks import check_account, unique_codes
from .auth.passwords import hash_password
from .entry.queries import to_do_by_editor
from .extensions import db
from .models import Account, AccountRegion, Hospital, Report, utcnow
from .reminders import sending
from .reports.importer import CLASH_ERRORS, CLASH_MESSAGE, import_reports

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


def _saved_when(row: dict, rng: random.Random, due, now) -> None:
    """Set a demo report's created_at (and so on_time) as a clerk would have saved it:
    about one in twelve after the deadline."""
    deadline = due(row["report_date"])
    hours = rng.uniform(1, 30) if rng.random() < 0.08 else -rng.uniform(0.5, 20)
    saved = min(deadline + timedelta(hours=hours), now)
    row["created_at"] = row["updated_at"] = saved
    row["on_time"] = saved <= deadline


def seed_demo(hospitals: int, days: int, seed: int, missing_today: int = 0, batch: int = 50) -> int:
    """Write `hospitals` demo hospitals with `days` daily reports each, ending today, but
    for `missing_today` percent of them (rounded), chosen by the seed, whose report of today is
    left for someone to enter. Commits once per batch of hospitals; returns the number of
    reports written."""
    rng = random.Random(seed)  # noqa: S311 -- demo data, deterministic on purpose
    # Drawn apart, so the figures of a seed stay the same whatever share is left out.
    pick = random.Random(f"{seed}-missing")  # noqa: S311
    late = set(pick.sample(range(1, hospitals + 1), round(hospitals * missing_today / 100)))
    today = rules.today()
    first_day = today - timedelta(days=days - 1)
    now = utcnow()
    # When each report was first saved: a few hours before its deadline mostly, late now and
    # then (drawn apart, so the figures of a seed stay the same).
    clock = random.Random(f"{seed}-saved")  # noqa: S311
    in_force = cycle.settings()
    due = functools.cache(lambda day: cycle.deadline_utc(day, in_force))
    written = 0
    with click.progressbar(length=hospitals, label="Hospitals", show_pos=True) as bar:
        for start in range(1, hospitals + 1, batch):
            numbers = range(start, min(start + batch, hospitals + 1))
            rows = [Hospital(**_hospital(rng, n), is_active=True) for n in numbers]
            db.session.add_all(rows)
            db.session.flush()  # assigns the ids the reports refer to
            reports = [
                r
                for n, h in zip(numbers, rows, strict=True)
                for r in _reports(rng, h.id, first_day, days, now)
                if not (n in late and r["report_date"] == today)
            ]
            for r in reports:
                _saved_when(r, clock, due, now)
            if reports:
                # Core executemany on the table: the ORM's bulk path costs more per row, and
                # skips nothing we need: on time or late is set above, by the same rule.
                db.session.execute(insert(Report.__table__), reports)
                summary.record_reports(db.session.connection(), after=reports)
            db.session.commit()
            db.session.expunge_all()
            written += len(reports)
            bar.update(len(rows))
    return written


def read_password(from_stdin: bool) -> str:
    """The first line of standard input, or typed twice at a hidden prompt."""
    if from_stdin:
        # Only the line break is dropped: spaces may be part of a password.
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True, prompt_suffix=": ")


# Where each of the account's rules (accounts.checks) comes from on the command line.
OPTIONS = {
    "email": "EMAIL",
    "display_name": "--name",
    "role": "--role",
    "hospitals": "--hospital",
    "regions": "--region",
}


def create_user(
    email: str,
    role: str,
    name: str | None,
    hospital_codes: tuple[str, ...],
    password_from_stdin: bool,
    regions: tuple[str, ...] = (),
    all_regions: bool = False,
) -> Account:
    """Check everything the accounts form checks, then write the account; commits once.
    Raises ClickException, having written nothing, on the first rule broken."""
    email = rules.normalise_email(email)
    name = rules.normalise_space(name) if name is not None else email.split("@", 1)[0]
    checked = check_account(
        email, name, role, unique_codes(hospital_codes), regions=regions, all_regions=all_regions
    )
    for field, messages in checked.errors.items():
        raise click.ClickException(f"{OPTIONS[field]}: {messages[0]} Nothing was created.")

    password = read_password(password_from_stdin)
    if not password:
        raise click.ClickException("No password was given: nothing was created.")
    if errors := rules.password_errors(password, email):
        raise click.ClickException(f"Password: {errors[0]} Nothing was created.")

    account = Account(
        email=email,
        display_name=name,
        role=role,
        password_hash=hash_password(password),
        hospitals=checked.hospitals,
        all_regions=all_regions,
        region_rows=[AccountRegion(region=r) for r in checked.regions],
    )
    db.session.add(account)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise click.ClickException(
            f"{email} got an account meanwhile (someone else created it); nothing was created."
        ) from None
    return account


DEV_ADMIN_EMAIL = "admin@example.org"


def create_dev_admin() -> str | None:
    """On a database without accounts, an administrator with a random password; the password,
    or None when accounts already exist."""
    if db.session.scalar(select(func.count()).select_from(Account)):
        return None
    password = secrets.token_urlsafe(12)
    while rules.password_errors(password, DEV_ADMIN_EMAIL):  # pragma: no cover -- 1 in 10^19
        password = secrets.token_urlsafe(12)
    db.session.add(
        Account(
            email=DEV_ADMIN_EMAIL,
            display_name="Administrator",
            role="admin",
            password_hash=hash_password(password),
        )
    )
    db.session.commit()
    return password


class _Progress:
    """A binary file whose lines move a progress bar by their bytes as they are read."""

    def __init__(self, raw, bar):
        self.raw = raw
        self.bar = bar

    def readline(self, limit: int = -1) -> bytes:
        line = self.raw.readline(limit)
        self.bar.update(len(line))
        return line


def import_file(path: str, dry_run: bool) -> None:
    """Import the CSV file at `path` with the upload page's importer; commits only a file
    without errors (and never a dry run). Raises ClickException, having written nothing,
    when the file has errors: they are listed first, on standard error."""
    with open(path, "rb") as raw:
        size = os.fstat(raw.fileno()).st_size
        label = "Checking" if dry_run else "Importing"
        # To standard error, so that standard output holds only the result.
        with click.progressbar(length=size, label=label, file=sys.stderr) as bar:
            result = import_reports(_Progress(raw, bar), actor=policy.COMMAND_LINE, dry_run=dry_run)
    counts = f"{result.new:,} new, {result.updated:,} updated, {result.unchanged:,} unchanged"
    if result.delimiter != ",":
        counts += f" (read as {result.delimiter_name}-separated)"
    if not result.ok:
        db.session.rollback()
        for error in result.errors:
            where = f"line {error.line:,}" + (f", {error.column}" if error.column else "")
            click.echo(f"{where}: {error.message}", err=True)
        if result.more_errors:
            click.echo(f"… and {result.more_errors:,} more, not listed.", err=True)
        raise click.ClickException(
            f"{result.error_count:,} problem{'s' if result.error_count != 1 else ''} in "
            f"{path}: nothing was imported."
        )
    for warning in result.warnings:
        click.echo(
            f"line {warning.line:,}, {warning.hospital_code} ({warning.hospital_name}) on "
            f"{rules.day_text(warning.report_date)}: unusual: {warning.message}",
            err=True,
        )
    if result.more_warnings:
        click.echo(f"… and {result.more_warnings:,} more unusual figures, not listed.", err=True)
    unusual = ""
    if result.unusual_rows:
        marked = "the import would mark them" if dry_run else "marked"
        unusual = f" {result.unusual_rows:,} of them with unusual figures, {marked} for follow-up."
    if dry_run:
        db.session.rollback()
        click.echo(f"Dry run, nothing was saved: {result.rows_text} would give {counts}.{unusual}")
        return
    db.session.commit()
    click.echo(f"Imported {result.rows_text}: {counts}.{unusual}")


class SettingsMissing(click.ClickException):
    """A setting the command needs is missing or wrong: exit 2, like a usage error."""

    exit_code = 2


def reminder_day(text: str | None) -> date:
    """--date, checked as the report form checks a date; today when not given."""
    try:
        day = rules.parse_report_date(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--date'") from None
    if day is None:
        return rules.today()
    for message in rules.report_date_errors(day):
        raise click.BadParameter(message, param_hint="'--date'")
    return day


def send_reminders(day: date, resend_in_doubt: bool) -> sending.Run:
    """Send the reminders of `day` that are not sent yet; what happened. The mail settings
    are checked before anything is claimed. Commits once to claim each editor's reminder,
    before the mail server is asked, and once to record how it went (reminders/sending.py:
    why, and what each state means). A database error is not caught: the reminder being
    sent then stays 'sending', in doubt, as the design says."""
    try:
        settings = sending.settings(current_app)
    except mail.MailConfigError as error:
        raise SettingsMissing(str(error)) from None
    planned = sending.plan(to_do_by_editor(day))
    found = sending.existing(day)
    db.session.commit()  # ends the reading transaction: each claim sees the rows as they are
    takeover = {"failed", "sending"} if resend_in_doubt else {"failed"}
    run = sending.Run(day)
    with ExitStack() as stack:
        connection: mail.Connection | None = None
        down: str | None = None  # why the server cannot be used any more in this run
        for reminder in planned:
            earlier = found.get(reminder.account_id)
            try:
                claimed = sending.claim(reminder, day, earlier, takeover)
                db.session.commit()
            except IntegrityError:
                db.session.rollback()
                # Another run claimed it between our reading and our insert: it is theirs.
                # Anything else that broke the insert is not ours to hide.
                earlier = sending.existing(day).get(reminder.account_id)
                if earlier is None:
                    raise
                claimed = None
            if claimed is None:
                if earlier.state == "sent":
                    run.already += 1
                else:  # 'sending': an earlier run never heard the server's answer
                    run.in_doubt.append((reminder.email, earlier.attempted_at))
                continue
            if connection is None and down is None:
                try:
                    connection = stack.enter_context(mail.connect(settings.server))
                except mail.MailError as error:
                    down = str(error)
            if down is not None:
                sending.mark_failed(claimed, down)
                run.failed.append((reminder.email, down))
            else:
                try:
                    connection.send(sending.message(settings, reminder, day))
                except mail.RecipientRefused as error:
                    sending.mark_failed(claimed, str(error))
                    run.failed.append((reminder.email, str(error)))
                except mail.MailError as error:
                    # The editors after this one are marked failed with the same reason,
                    # without trying: the next run retries all of them.
                    down = str(error)
                    sending.mark_failed(claimed, down)
                    run.failed.append((reminder.email, down))
                else:
                    sending.mark_sent(claimed)
                    run.sent += 1
            db.session.commit()
    return run


def _boxed(lines: list[str]) -> str:
    width = max(len(line) for line in lines)
    rule = "+" + "-" * (width + 2) + "+"
    return "\n".join([rule, *(f"| {line.ljust(width)} |" for line in lines), rule])


def init_app(app: Flask) -> None:
    @app.cli.command("create-user")
    @click.argument("email")
    @click.option("--role", required=True, type=click.Choice(list(rules.ROLES)))
    @click.option("--name", help="The name shown in the app; default: the email before the @.")
    @click.option(
        "--hospital",
        "hospitals",
        multiple=True,
        metavar="CODE",
        help="A hospital whose reports an editor may enter and change; repeat for several.",
    )
    @click.option(
        "--region",
        "regions",
        multiple=True,
        metavar="NAME",
        help="A region whose reports a reviewer checks and signs off; repeat for several.",
    )
    @click.option("--all-regions", is_flag=True, help="A reviewer of every region, later ones too.")
    @click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from the first line of standard input instead of prompting.",
    )
    def create_user_command(
        email: str,
        role: str,
        name: str | None,
        hospitals: tuple[str, ...],
        regions: tuple[str, ...],
        all_regions: bool,
        password_stdin: bool,
    ) -> None:
        """Create an account. The password is asked for twice (hidden), or read from standard
        input with --password-stdin; it is never printed."""
        g.audit_actor = "command line (create-user)"
        user = create_user(email, role, name, hospitals, password_stdin, regions, all_regions)
        click.echo(f"Created {role} account {user.email}.")

    @app.cli.command("create-dev-admin")
    def create_dev_admin_command() -> None:
        """For a new development database: an administrator with a random password, printed
        once. Does nothing when any account exists; refuses in production."""
        if current_app.config["APP_ENV"] == "production":
            raise click.ClickException(
                "create-dev-admin is for development only: it prints a password to the "
                "terminal. In production use: flask --app wsgi create-user EMAIL --role admin"
            )
        g.audit_actor = "command line (create-dev-admin)"
        password = create_dev_admin()
        if password is None:
            click.echo("Accounts exist already: no development administrator was created.")
            return
        click.echo(
            _boxed(
                [
                    "A first administrator account was created. Sign in at:",
                    # Where `make run`'s gunicorn listens (gunicorn.conf.py reads BIND too).
                    f"  http://{os.environ.get('BIND', '127.0.0.1:8000')}/login",
                    f"  Email:    {DEV_ADMIN_EMAIL}",
                    f"  Password: {password}",
                    "This password is shown only this once: change it after signing in",
                    "(Password link at the top right).",
                ]
            )
        )

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
    @click.option(
        "--missing-today",
        default=20,
        show_default=True,
        type=click.IntRange(0, 100),
        help="The share of hospitals (in percent) left without today's report: work to do.",
    )
    def seed_demo_command(hospitals: int, days: int, seed: int, missing_today: int) -> None:
        """Fill the database with realistic demo hospitals and their daily reports."""
        # The hospitals are written through the session, so the trail records each one's
        # creation, under this name; the reports are bulk inserts, which it does not see.
        g.audit_actor = "command line (seed-demo)"
        existing = db.session.scalar(
            select(func.count()).select_from(Hospital).where(Hospital.code.startswith(DEMO_PREFIX))
        )
        if existing:
            raise click.ClickException(
                f"The database already holds {existing} demo hospitals ({DEMO_PREFIX}…); "
                "seed-demo only adds them to a database that has none."
            )
        written = seed_demo(hospitals, days, seed, missing_today)
        click.echo(f"Wrote {hospitals:,} hospitals and {written:,} reports.")

    @app.cli.command("import-reports")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
    @click.option(
        "--dry-run",
        is_flag=True,
        help="Check every row and count what would change, without saving anything.",
    )
    def import_reports_command(file: str, dry_run: bool) -> None:
        """Import daily reports from a CSV file (the upload page's format: see
        /reports/import). All or nothing: a file with any bad row imports nothing, and every
        problem is listed with its line and column."""
        g.audit_actor = "command line (import-reports)"
        try:
            import_file(file, dry_run)
        except CLASH_ERRORS:
            db.session.rollback()
            raise click.ClickException(CLASH_MESSAGE) from None

    @app.cli.command("send-reminders")
    @click.option(
        "--date",
        "day",
        metavar="YYYY-MM-DD",
        help="The day whose reports are missing; default: today in TIMEZONE.",
    )
    @click.option(
        "--resend-in-doubt",
        is_flag=True,
        help="Also send the reminders an earlier run left in doubt (it stopped before it "
        "recorded whether the mail server took them). Only after checking the mail server's "
        "log: an editor may get them twice.",
    )
    def send_reminders_command(day: str | None, resend_in_doubt: bool) -> None:
        """Email every active editor the hospitals still to report for the day, once: a
        second run sends only what failed before. Exits 1 when any reminder failed or is in
        doubt, 2 when a setting (MAIL_URL, MAIL_FROM, BASE_URL) or --date is wrong."""
        run = send_reminders(reminder_day(day), resend_in_doubt)
        click.echo(run.summary())
        if not run.ok:
            raise SystemExit(1)

    # Its name before reports had one word everywhere: scripts that call it keep working.
    app.cli.add_command(import_reports_command, "import-stats")

    # Production checks, backups and the integrity check live in their own modules.
    app.cli.add_command(deploy.check_deploy_command)
    app.cli.add_command(backup.backup_command)
    app.cli.add_command(integrity.check_integrity_command)
