"""Reminders by email: `send-reminders` against a real SMTP server (aiosmtpd) that the tests
start on a free local port, reading back what arrived; what the database records, so that
nobody is told twice and nobody is lost silently; and the administrators' page."""

from __future__ import annotations

import email
import email.policy
import re
import socket
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from helpers import (
    count,
    count_queries,
    make_hospital,
    make_report,
    make_user,
    page_text,
    shown,
    today,
    yesterday,
)
from sqlalchemy import select

from hospital_app.extensions import db
from hospital_app.mail import MailConfigError, MailServer, mask, parse_url
from hospital_app.models import Hospital, Reminder, utcnow

SENDER = "registry@example.org"
BASE_URL = "https://registry.example.org"


# --- The mail server the tests start ---------------------------------------------------------


class Mailbox:
    """An aiosmtpd handler that keeps what it accepts, and refuses the addresses in `refuse`
    with a 550, as a real server refuses an unknown mailbox."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self) -> list[str]:
        return sorted(m["X-Envelope-To"] for m in self.messages)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1; its Mailbox, and its port as mailbox.port."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    mailbox.port = controller.port
    yield mailbox
    controller.stop()


@pytest.fixture
def mail_app(app, smtp_server):
    app.config.update(
        MAIL_URL=f"smtp://127.0.0.1:{smtp_server.port}", MAIL_FROM=SENDER, BASE_URL=BASE_URL
    )
    return app


def send(runner, *args: str):
    return runner.invoke(args=["send-reminders", *args])


def reminders(app) -> dict[str, tuple[str, str | None]]:
    """{email: (state, error)} of every reminder recorded."""
    with app.app_context():
        return {
            r.email: (r.state, r.error)
            for r in db.session.scalars(select(Reminder).order_by(Reminder.email))
        }


@pytest.fixture
def network(mail_app):
    """Two editors with work to do today, one with all done, one deactivated, a viewer and an
    administrator; an archived hospital assigned to the first editor."""
    app = mail_app
    north = make_hospital(app, code="NRH-001", name="Northside Regional", reports=())
    south = make_hospital(app, code="SGH-002", name="Southgate General", reports=())
    done = make_hospital(app, code="DON-003", name="Done Hospital", reports=({},))
    make_report(app, done, report_date=today())
    closed = make_hospital(app, code="ARC-004", name="Archived Hospital", reports=())
    with app.app_context():
        db.session.get(Hospital, closed).is_active = False
        db.session.commit()
    ids = {
        "ann": make_user(
            app, "editor", email="ann@example.org", name="Ann Editor", hospitals=(north, south)
        ),
        "bob": make_user(
            app, "editor", email="bob@example.org", name="Bob Editor", hospitals=(south, closed)
        ),
        "dan": make_user(app, "editor", email="dan@example.org", hospitals=(done,)),
        "eve": make_user(app, "editor", email="eve@example.org", hospitals=(north,), active=False),
        "vic": make_user(app, "viewer", email="vic@example.org"),
        "ada": make_user(app, "admin", email="ada@example.org"),
    }
    return ids


# --- Sending ---------------------------------------------------------------------------------


def test_each_editor_with_hospitals_to_do_gets_one_email_listing_them(
    mail_app, runner, smtp_server, network
):
    result = send(runner)
    assert result.exit_code == 0, result.output
    assert f"Sent 2 reminders for {shown(today())}." in result.output
    # Not the editor whose hospitals all reported, the deactivated one, a viewer or an admin.
    assert smtp_server.to() == ["ann@example.org", "bob@example.org"]
    by_to = {m["X-Envelope-To"]: m for m in smtp_server.messages}

    ann = by_to["ann@example.org"]
    assert ann["From"] == SENDER
    assert ann["To"] == "Ann Editor <ann@example.org>"
    assert ann["Subject"] == f"Reports to enter for {shown(today())}: 2 hospitals"
    body = ann.get_content()
    assert "Hello Ann Editor," in body
    assert "NRH-001 — Northside Regional" in body
    assert "SGH-002 — Southgate General" in body
    assert f"{BASE_URL}/entry?date={today().isoformat()}" in body

    bob = by_to["bob@example.org"]
    assert bob["Subject"] == f"Reports to enter for {shown(today())}: 1 hospital"
    # The archived hospital assigned to him takes no reports: it is not listed.
    assert "SGH-002 — Southgate General" in bob.get_content()
    assert "ARC-004" not in bob.get_content()

    assert reminders(mail_app) == {
        "ann@example.org": ("sent", None),
        "bob@example.org": ("sent", None),
    }
    with mail_app.app_context():
        row = db.session.scalar(select(Reminder).where(Reminder.email == "ann@example.org"))
        assert row.report_date == today() and row.sent_at is not None
        assert row.hospitals == "NRH-001 — Northside Regional\nSGH-002 — Southgate General"


def test_a_second_run_for_the_same_day_sends_nothing_more(mail_app, runner, smtp_server, network):
    assert send(runner).exit_code == 0
    again = send(runner)
    assert again.exit_code == 0, again.output
    assert len(smtp_server.messages) == 2
    assert f"Sent 0 reminders for {shown(today())}; 2 already sent earlier." in again.output
    assert count(mail_app, Reminder) == 2


def test_a_reminder_goes_to_the_hospitals_still_to_do_on_the_day_asked(
    mail_app, runner, smtp_server, network
):
    # Yesterday, DON-003 had its report (the factory's), and the others none.
    result = send(runner, "--date", yesterday().isoformat())
    assert result.exit_code == 0, result.output
    assert f"Sent 2 reminders for {shown(yesterday())}." in result.output
    for message in smtp_server.messages:
        assert shown(yesterday()) in message["Subject"]
        assert f"/entry?date={yesterday().isoformat()}" in message.get_content()
    # Today's reminders are another day's: they still go.
    assert "Sent 2 reminders" in send(runner).output
    assert len(smtp_server.messages) == 4


def test_nothing_to_send_when_every_hospital_reported(mail_app, runner, smtp_server):
    done = make_hospital(mail_app, code="DON-003", reports=())
    make_report(mail_app, done, report_date=today())
    make_user(mail_app, "editor", email="dan@example.org", hospitals=(done,))
    result = send(runner)
    assert result.exit_code == 0, result.output
    assert "No reminders to send" in result.output
    assert smtp_server.messages == []
    assert count(mail_app, Reminder) == 0


def test_a_refused_recipient_fails_alone_and_is_sent_by_the_next_run(
    mail_app, runner, smtp_server, network
):
    smtp_server.refuse = {"ann@example.org"}
    result = send(runner)
    assert result.exit_code == 1, result.output
    assert (
        f"Sent 1 reminder for {shown(today())}; 1 failed "
        "(ann@example.org: 550 5.1.1 No such mailbox here)." in result.output
    )
    assert "tried again by the next run" in result.output
    assert smtp_server.to() == ["bob@example.org"]
    assert reminders(mail_app) == {
        "ann@example.org": ("failed", "550 5.1.1 No such mailbox here"),
        "bob@example.org": ("sent", None),
    }

    smtp_server.refuse = set()
    retry = send(runner)
    assert retry.exit_code == 0, retry.output
    assert "Sent 1 reminder" in retry.output and "1 already sent earlier" in retry.output
    assert smtp_server.to() == ["ann@example.org", "bob@example.org"]
    assert reminders(mail_app)["ann@example.org"] == ("sent", None)


def test_a_server_that_cannot_be_reached_marks_everyone_failed_and_the_next_run_sends(
    mail_app, runner, smtp_server, network
):
    working = mail_app.config["MAIL_URL"]
    mail_app.config["MAIL_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nobody listens there
    result = send(runner)
    assert result.exit_code == 1, result.output
    assert "Sent 0 reminders" in result.output
    assert "2 failed (ann@example.org, bob@example.org: Could not reach the mail server" in (
        result.output
    )
    assert {state for state, _ in reminders(mail_app).values()} == {"failed"}

    mail_app.config["MAIL_URL"] = working
    retry = send(runner)
    assert retry.exit_code == 0, retry.output
    assert "Sent 2 reminders" in retry.output
    assert smtp_server.to() == ["ann@example.org", "bob@example.org"]


def test_a_crash_after_sending_leaves_the_reminder_in_doubt_and_never_resends_it(
    mail_app, runner, smtp_server, network
):
    # The database fails when the first message has gone and is to be marked sent.
    with count_queries(mail_app, fail_on="UPDATE reminders"):
        crashed = send(runner)
    assert crashed.exit_code != 0
    assert len(smtp_server.messages) == 1
    first = smtp_server.messages[0]["X-Envelope-To"]
    assert reminders(mail_app) == {first: ("sending", None)}

    later = send(runner)
    assert later.exit_code == 1, later.output
    assert "Sent 1 reminder" in later.output
    assert f"1 in doubt ({first}, tried " in later.output
    assert "--resend-in-doubt" in later.output
    # The one in doubt was not sent again; the other was.
    assert smtp_server.to() == ["ann@example.org", "bob@example.org"]
    assert reminders(mail_app)[first] == ("sending", None)

    # The administrator checked the mail server's log and chose to send it again.
    resent = send(runner, "--resend-in-doubt")
    assert resent.exit_code == 0, resent.output
    assert "Sent 1 reminder" in resent.output
    assert smtp_server.to().count(first) == 2
    assert reminders(mail_app)[first] == ("sent", None)


def test_a_row_another_run_is_sending_is_left_to_it(mail_app, runner, smtp_server, network):
    with mail_app.app_context():
        db.session.add(
            Reminder(
                account_id=network["ann"],
                report_date=today(),
                state="sending",
                email="ann@example.org",
                hospitals="NRH-001 — Northside Regional",
                attempted_at=utcnow(),
            )
        )
        db.session.commit()
    result = send(runner)
    assert result.exit_code == 1
    assert smtp_server.to() == ["bob@example.org"]
    assert "1 in doubt (ann@example.org" in result.output


def test_the_password_is_used_decoded_and_never_shown(mail_app, runner, network):
    seen = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        seen.append((auth_data.login, auth_data.password))
        ok = auth_data.password == b"p@ss:word"
        # handled=False: the server then answers the refusal itself (535).
        return AuthResult(success=ok, handled=False)

    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        url = f"smtp://clerk%40example.org:{{}}@127.0.0.1:{controller.port}"
        mail_app.config["MAIL_URL"] = url.format("p%40ss%3Aword")
        result = send(runner)
        assert result.exit_code == 0, result.output
        assert seen[0] == (b"clerk@example.org", b"p@ss:word")
        assert len(mailbox.messages) == 2

        with mail_app.app_context():
            db.session.execute(Reminder.__table__.delete())
            db.session.commit()
        mail_app.config["MAIL_URL"] = url.format("wrong-secret")
        refused = send(runner)
        assert refused.exit_code == 1
        assert "refused the user name or password" in refused.output
        assert "clerk@example.org:***@127.0.0.1" in refused.output
        assert "wrong-secret" not in refused.output
    finally:
        controller.stop()


def test_starttls_is_asked_for_and_its_absence_is_a_clear_failure(
    mail_app, runner, smtp_server, network
):
    # The test server offers no STARTTLS: a URL that asks for it must not fall back to plain.
    mail_app.config["MAIL_URL"] = f"smtp+starttls://127.0.0.1:{smtp_server.port}"
    result = send(runner)
    assert result.exit_code == 1, result.output
    assert "Could not start a session with the mail server" in result.output
    assert smtp_server.messages == []


@pytest.mark.parametrize("missing", ["MAIL_URL", "MAIL_FROM", "BASE_URL"])
def test_a_missing_setting_stops_before_anything_is_claimed(
    mail_app, runner, smtp_server, network, missing
):
    mail_app.config[missing] = None
    result = send(runner)
    assert result.exit_code == 2
    assert f"set {missing} (" in result.output
    assert "Nothing was sent." in result.output
    assert count(mail_app, Reminder) == 0 and smtp_server.messages == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-02-30", "is not a date"),
        ("tomorrow", "is not a date"),
        ("future", "cannot be in the future"),
    ],
)
def test_a_wrong_date_is_refused(mail_app, runner, smtp_server, network, value, message):
    if value == "future":
        value = (today() + timedelta(days=1)).isoformat()
    result = send(runner, "--date", value)
    assert result.exit_code == 2
    assert message in result.output
    assert count(mail_app, Reminder) == 0 and smtp_server.messages == []


# --- The MAIL_URL ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.org", MailServer("smtp", "mail.example.org", 25)),
        ("smtp+starttls://mail.example.org", MailServer("smtp+starttls", "mail.example.org", 587)),
        ("smtps://mail.example.org", MailServer("smtps", "mail.example.org", 465)),
        (
            "smtp+starttls://u%40x.org:s%2Fcret@mail.example.org:2525",
            MailServer("smtp+starttls", "mail.example.org", 2525, "u@x.org", "s/cret"),
        ),
        (
            "smtps://only-user@mail.example.org",
            MailServer("smtps", "mail.example.org", 465, "only-user"),
        ),
    ],
)
def test_mail_urls_are_read_with_their_default_ports(url, expected):
    server = parse_url(url)
    assert server == expected
    assert server.password == expected.password


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://u:secret@mail.example.org", "must start with smtp://, smtp+starttls://, smtps://"),
        ("smtp://u:secret@:25", "names no server"),
        ("smtp://u:secret@mail.example.org:port", "port that is not a number"),
    ],
)
def test_a_wrong_mail_url_is_refused_without_showing_its_password(url, message):
    with pytest.raises(MailConfigError, match=re.escape(message)) as raised:
        parse_url(url)
    assert "secret" not in str(raised.value)
    assert "u:***@" in str(raised.value)


def test_the_password_is_masked_wherever_the_server_is_named():
    assert mask("smtps://u:secret@mail.example.org:465") == "smtps://u:***@mail.example.org:465"
    assert mask("smtp://mail.example.org") == "smtp://mail.example.org"
    server = parse_url("smtps://u:secret@mail.example.org")
    assert str(server) == "smtps://u:***@mail.example.org:465"
    assert "secret" not in repr(server)


# --- The administrators' page ----------------------------------------------------------------


def test_administrators_see_the_last_sending(mail_app, runner, smtp_server, network, client):
    smtp_server.refuse = {"bob@example.org"}
    send(runner)
    response = client.get("/reminders")
    assert response.status_code == 200
    text = page_text(response)
    assert f"{shown(today())} 1 1 0" in text  # day, sent, failed, in doubt
    assert f"Reminders for the reports of {shown(today())}" in text
    assert "Ann Editor ann@example.org NRH-001 — Northside Regional" in text
    assert "Sent" in text
    assert "Bob Editor bob@example.org SGH-002 — Southgate General Failed 550 5.1.1" in text
    assert "the next run of the command tries it again" in text


def test_the_page_says_what_to_do_with_a_reminder_in_doubt(mail_app, client, network):
    with mail_app.app_context():
        db.session.add(
            Reminder(
                account_id=network["ann"],
                report_date=yesterday(),
                state="sending",
                email="ann@example.org",
                hospitals="NRH-001 — Northside Regional",
                attempted_at=utcnow(),
            )
        )
        db.session.commit()
    text = page_text(client.get("/reminders"))
    assert "1 reminder in doubt" in text
    assert "In doubt" in text
    assert f"send-reminders --date {yesterday().isoformat()} --resend-in-doubt" in text


def test_the_page_before_any_sending_and_for_another_day(client):
    assert "No reminder has been sent yet." in page_text(client.get("/reminders"))
    bad = client.get("/reminders?date=soon")
    assert bad.status_code == 400
    assert "“soon” is not a date" in page_text(bad)


def test_the_page_reads_a_fixed_number_of_queries(mail_app, client, network):
    def add(day, account_ids):
        with mail_app.app_context():
            for account_id in account_ids:
                db.session.add(
                    Reminder(
                        account_id=account_id,
                        report_date=day,
                        state="sent",
                        email=f"{account_id}@example.org",
                        hospitals="X",
                        attempted_at=utcnow(),
                        sent_at=utcnow(),
                    )
                )
            db.session.commit()

    add(today(), [network["ann"]])
    with count_queries(mail_app) as few:
        client.get("/reminders")
    add(yesterday(), [network["ann"], network["bob"]])
    add(today(), [network["bob"], network["dan"], network["eve"]])
    with count_queries(mail_app) as many:
        assert "4 0 0" in page_text(client.get("/reminders"))
    assert len(many) == len(few)
