"""Sign-in throttling. Failed attempts are rows in the database, so the limits hold across
every gunicorn worker and every machine that shares it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select

from .. import rules
from ..extensions import db
from ..models import LoginAttempt, utcnow

WINDOW = timedelta(minutes=15)
ACCOUNT_LIMIT = 5  # failed attempts for one email within WINDOW
CLIENT_LIMIT = 20  # failed attempts from one client address within WINDOW


# What is typed may be longer than the columns: attempts are counted by what fits.
def _email_key(email: str) -> str:
    return email[: rules.EMAIL_MAX]


def _client_key(client: str) -> str:
    return client[: LoginAttempt.CLIENT_MAX]


def _unblocked_at(column, value: str, limit: int, now: datetime) -> datetime | None:
    """When attempts matching `value` fall back under `limit`; None if they are under it."""
    recent = list(
        db.session.scalars(
            select(LoginAttempt.attempted_at)
            .where(column == value, LoginAttempt.attempted_at > now - WINDOW)
            .order_by(LoginAttempt.attempted_at.desc())
            .limit(limit)
        )
    )
    if len(recent) < limit:
        return None
    return recent[-1] + WINDOW


def blocked_until(email: str, client: str) -> datetime | None:
    """The time (UTC) until which sign-in is refused for this email or client, if it is."""
    now = utcnow()
    times = [
        t
        for t in (
            _unblocked_at(LoginAttempt.email, _email_key(email), ACCOUNT_LIMIT, now),
            _unblocked_at(LoginAttempt.client, _client_key(client), CLIENT_LIMIT, now),
        )
        if t is not None
    ]
    return max(times) if times else None


def record_failure(email: str, client: str) -> None:
    now = utcnow()
    # Attempts older than the window no longer count; drop them as we go.
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at <= now - WINDOW))
    db.session.add(
        LoginAttempt(email=_email_key(email), client=_client_key(client), attempted_at=now)
    )


def record_success(email: str) -> None:
    """A successful sign-in clears the account's failures (not the client's)."""
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.email == _email_key(email)))
