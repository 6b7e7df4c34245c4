"""Sending email through an SMTP server, with Python's smtplib.

The server is one URL (the MAIL_URL setting):
  smtp://user:password@host:port            plain SMTP (port 25 by default)
  smtp+starttls://user:password@host:port   SMTP upgraded to TLS with STARTTLS (587)
  smtps://user:password@host:port           TLS from the first byte (465)
The user and password are optional and URL-encoded ("%40" for an "@" in a user name). The
password is never shown: every message that names the server masks it (MailServer's str).

Two kinds of failure, because they call for different things:
  MailError: the server cannot be used at all (not reached, TLS or sign-in refused, the
  sender refused, the connection lost): nothing more can be sent in this run;
  RecipientRefused: this one message was refused (an unknown mailbox, a 550): the others
  can still go.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
TIMEOUT = 30  # seconds: a server that does not answer must not hold a cron job for ever


class MailConfigError(ValueError):
    """MAIL_URL cannot be read; the message names the problem, never the password."""


class MailError(Exception):
    """The mail server cannot be used: nothing more can be sent through this connection."""


class RecipientRefused(Exception):
    """The server refused this one message (its recipient, or its content)."""


@dataclass(frozen=True)
class MailServer:
    scheme: str
    host: str
    port: int
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        login = f"{self.user}:***@" if self.password else f"{self.user}@" if self.user else ""
        return f"{self.scheme}://{login}{self.host}:{self.port}"


def mask(url: str) -> str:
    """`url` with the password, if any, replaced by ***: safe to print or log."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def parse_url(url: str) -> MailServer:
    """The server MAIL_URL names; MailConfigError says what is wrong with it."""
    shown = mask(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise MailConfigError(f"MAIL_URL {shown} has a port that is not a number.") from None
    if parts.scheme not in SCHEMES:
        raise MailConfigError(
            f"MAIL_URL {shown} must start with {', '.join(f'{s}://' for s in SCHEMES)}."
        )
    if not parts.hostname:
        raise MailConfigError(f"MAIL_URL {shown} names no server: smtp://host:port.")
    return MailServer(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port or SCHEMES[parts.scheme],
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def _reply(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {' '.join(text.split())}"


class Connection:
    """An open, signed-in connection; send() one message after another through it."""

    def __init__(self, smtp: smtplib.SMTP, server: MailServer):
        self._smtp = smtp
        self.server = server

    def send(self, message: EmailMessage) -> None:
        try:
            refused = self._smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            raise RecipientRefused(_reply(code, reply)) from None
        except smtplib.SMTPDataError as error:
            raise RecipientRefused(_reply(error.smtp_code, error.smtp_error)) from None
        except smtplib.SMTPNotSupportedError as error:
            # This message needs what the server lacks (an address beyond ASCII without
            # SMTPUTF8): the others may still go.
            raise RecipientRefused(str(error)) from None
        except smtplib.SMTPSenderRefused as error:
            raise MailError(
                f"The mail server {self.server} refused the sender {error.sender}: "
                f"{_reply(error.smtp_code, error.smtp_error)}"
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            raise MailError(f"The mail server {self.server} stopped answering: {error}") from None
        if refused:  # some of several recipients; we send to one at a time
            code, reply = next(iter(refused.values()))
            raise RecipientRefused(_reply(code, reply))


@contextmanager
def connect(server: MailServer, timeout: float = TIMEOUT) -> Iterator[Connection]:
    """A connection to `server`, TLS and sign-in done as its URL asks; closed afterwards.
    MailError when that fails."""
    context = ssl.create_default_context()
    try:
        if server.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=timeout)
    except (smtplib.SMTPException, OSError) as error:
        raise MailError(f"Could not reach the mail server {server}: {error}") from None
    try:
        try:
            if server.scheme == "smtp+starttls":
                smtp.starttls(context=context)
            if server.user:
                smtp.login(server.user, server.password or "")
        except smtplib.SMTPAuthenticationError as error:
            raise MailError(
                f"The mail server {server} refused the user name or password: "
                f"{_reply(error.smtp_code, error.smtp_error)}"
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            raise MailError(
                f"Could not start a session with the mail server {server}: {error}"
            ) from None
        yield Connection(smtp, server)
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()  # the server went away already: nothing left to say goodbye to
