"""Reminders by email: what `flask --app wsgi send-reminders [--date YYYY-MM-DD]` sends, and
how it records what it sent so that nobody is told twice and nobody is lost silently.

Who: every active editor with active assigned hospitals that have no report for the day
(entry.queries.to_do_by_editor, the entry page's own "to do"), one plain-text email each,
listing those hospitals and linking to BASE_URL/entry?date=YYYY-MM-DD.

The record: one `reminders` row per editor and day (unique). For each editor, the command
  1. claims the row and COMMITS: a new row, or a 'failed' one taken over, set to 'sending';
  2. then asks the mail server to send the message;
  3. then marks the row 'sent', or 'failed' with the server's reply, and COMMITS.
One transaction per step, per editor; the command (cli.py) is the one place that commits,
these helpers only flush. So:
  - a second run for the same day skips 'sent' and 'sending' rows: nobody is told twice;
  - a message the server refused (a 550 for one mailbox) is 'failed', the others go on, the
    command exits non-zero, and the next run retries the failed ones;
  - a server that cannot be reached, or that stops answering half-way, marks that editor and
    every one after it 'failed' with the reason (none of them is lost: each has a row the
    next run retries), and the command exits non-zero;
  - a crash between sending and marking (the process killed, the database gone at that
    moment) leaves the row 'sending'. It is NOT resent automatically, because the message
    may have gone out; it is reported as "in doubt" by every later run for that day (which
    exits non-zero) and on the administrators' page /reminders, with what to do: look in
    the mail server's log, and if it did not go out, run the command again with
    --resend-in-doubt (or tell the editor).
Two runs at once cannot both claim a row: the insert meets the unique constraint, and taking
over a failed row is an UPDATE conditional on its state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from flask import Flask
from sqlalchemy import select, update

from ..extensions import db
from ..mail import MailConfigError, MailServer, parse_url
from ..models import Account, Hospital, Reminder, utcnow
from ..templating import day as shown_day
from ..templating import moment


@dataclass(frozen=True)
class Settings:
    server: MailServer
    sender: str
    base_url: str


SETTINGS_HELP = {
    "MAIL_URL": "the mail server, e.g. smtp+starttls://user:password@mail.example.org:587",
    "MAIL_FROM": "the sender's address, e.g. registry@example.org",
    "BASE_URL": "the app's address as people reach it, e.g. https://registry.example.org",
}


def settings(app: Flask) -> Settings:
    """The mail settings; MailConfigError naming every one missing (or MAIL_URL's fault)."""
    missing = [name for name in SETTINGS_HELP if not app.config.get(name)]
    if missing:
        raise MailConfigError(
            "Reminders cannot be sent: set "
            + "; ".join(f"{name} ({SETTINGS_HELP[name]})" for name in missing)
            + ". Nothing was sent."
        )
    return Settings(
        server=parse_url(app.config["MAIL_URL"]),
        sender=app.config["MAIL_FROM"],
        base_url=app.config["BASE_URL"].rstrip("/"),
    )


@dataclass(frozen=True)
class Planned:
    """One editor's reminder, read before anything is claimed: plain values that stay valid
    across the commits of the run."""

    account_id: int
    email: str
    name: str
    hospitals: tuple[str, ...]  # "CODE — Name"

    @property
    def listed(self) -> str:
        return "\n".join(self.hospitals)


def hospital_line(hospital: Hospital) -> str:
    return f"{hospital.code} — {hospital.name}"


def plan(to_do: dict[int, list[Hospital]]) -> list[Planned]:
    """The reminders of a day, by email address, from entry.queries.to_do_by_editor."""
    if not to_do:
        return []
    accounts = db.session.execute(
        select(Account.id, Account.email, Account.display_name).where(Account.id.in_(to_do))
    )
    return sorted(
        (
            Planned(id_, email, name, tuple(hospital_line(h) for h in to_do[id_]))
            for id_, email, name in accounts
        ),
        key=lambda p: p.email,
    )


def entry_link(base_url: str, day: date) -> str:
    return f"{base_url}/entry?date={day.isoformat()}"


def subject(day: date, count: int) -> str:
    return f"Reports to enter for {shown_day(day)}: {count} hospital{'s' if count != 1 else ''}"


def message(settings: Settings, planned: Planned, day: date) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject(day, len(planned.hospitals))
    msg["From"] = settings.sender
    msg["To"] = formataddr((planned.name, planned.email))
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    listed = "\n".join(f"  {line}" for line in planned.hospitals)
    these = "This hospital has" if len(planned.hospitals) == 1 else "These hospitals have"
    msg.set_content(
        f"Hello {planned.name},\n\n"
        f"{these} no report for {shown_day(day)} yet:\n\n"
        f"{listed}\n\n"
        f"Enter the figures here:\n{entry_link(settings.base_url, day)}\n\n"
        "Hospital Registry sends this reminder once a day to the editors of hospitals that "
        "have not reported.\n"
    )
    return msg


@dataclass(frozen=True)
class Found:
    """A reminder already recorded for the day."""

    id: int
    state: str
    attempted_at: datetime


def existing(day: date) -> dict[int, Found]:
    """{account_id: Found} of the reminders already recorded for `day`."""
    rows = db.session.execute(
        select(Reminder.account_id, Reminder.id, Reminder.state, Reminder.attempted_at).where(
            Reminder.report_date == day
        )
    )
    return {account_id: Found(*rest) for account_id, *rest in rows}


def claim(planned: Planned, day: date, found: Found | None, takeover: set[str]) -> int | None:
    """Set this editor's reminder of `day` to 'sending' (flushed, not committed): a new row,
    or the existing one when its state is in `takeover`; its id, or None when it is not
    ours to send. The insert of a row another run claimed meanwhile raises IntegrityError."""
    values = {
        "state": "sending",
        "email": planned.email,
        "hospitals": planned.listed,
        "attempted_at": utcnow(),
        "sent_at": None,
        "error": None,
    }
    if found is None:
        reminder = Reminder(account_id=planned.account_id, report_date=day, **values)
        db.session.add(reminder)
        db.session.flush()
        return reminder.id
    if found.state not in takeover:
        return None
    # Conditional on the state read: of two runs taking over the same row, one wins.
    taken = db.session.execute(
        update(Reminder)
        .where(Reminder.id == found.id, Reminder.state == found.state)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return found.id if taken.rowcount == 1 else None


def mark_sent(reminder_id: int) -> None:
    db.session.execute(
        update(Reminder)
        .where(Reminder.id == reminder_id)
        .values(state="sent", sent_at=utcnow(), error=None)
        .execution_options(synchronize_session=False)
    )


def mark_failed(reminder_id: int, error: str) -> None:
    db.session.execute(
        update(Reminder)
        .where(Reminder.id == reminder_id)
        .values(state="failed", error=error)
        .execution_options(synchronize_session=False)
    )


@dataclass
class Run:
    """What one run did, for its summary."""

    day: date
    sent: int = 0
    already: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (email, why)
    in_doubt: list[tuple[str, datetime]] = field(default_factory=list)  # (email, attempted)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.in_doubt

    def summary(self) -> str:
        when = shown_day(self.day)
        if not (self.sent or self.already or self.failed or self.in_doubt):
            return f"No reminders to send for {when}: no editor has hospitals still to report."
        parts = [f"Sent {self.sent} reminder{'s' if self.sent != 1 else ''} for {when}"]
        if self.failed:
            # One reason for many (a server down) is said once, after their addresses.
            reasons: dict[str, list[str]] = {}
            for email, why in self.failed:
                reasons.setdefault(why, []).append(email)
            detail = "; ".join(f"{', '.join(emails)}: {why}" for why, emails in reasons.items())
            parts.append(f"{len(self.failed)} failed ({detail})")
        if self.already:
            parts.append(f"{self.already} already sent earlier")
        lines = ["; ".join(parts) + "."]
        if self.failed:
            lines.append("The failed reminders are tried again by the next run.")
        if self.in_doubt:
            listed = ", ".join(f"{email}, tried {moment(at)}" for email, at in self.in_doubt)
            lines.append(
                f"{len(self.in_doubt)} in doubt ({listed}): an earlier run stopped before it "
                "recorded whether the mail server took the message, so it may have gone out "
                "and is not sent again. Look in the mail server's log; if it did not go out, "
                "run send-reminders again with --resend-in-doubt."
            )
        return "\n".join(lines)
