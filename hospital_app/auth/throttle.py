"""Sign-in throttling: how many passwords may be tried, and how a person who knows theirs
still gets in while someone else is guessing it.

What is counted (following OWASP's "Slow down online guessing attacks with device cookies"):
- a browser that has signed in to an account before carries a signed "known device" cookie
  for it (devices.py). An attempt on that account from that browser is counted against that
  device alone: DEVICE_LIMIT failures in a WINDOW. Someone guessing elsewhere cannot lock
  the account's owner out, and a stolen cookie gives a guesser no more tries than anyone;
- any other attempt is counted against the account (ACCOUNT_LIMIT failures in a WINDOW,
  whichever browser or address made them) and against the client's address (CLIENT_LIMIT,
  so one address cannot try a few passwords on each of many accounts). Known devices are
  not counted against the address: the staff of a hospital behind one NAT address who have
  signed in before are not paused by someone's typos there, and the address limit is four
  times the account limit, so one person's typos never reach it;
- a key's failures are counted in a fixed WINDOW that starts at its first failure: at the
  limit, its attempts are refused until the window ends, then the count starts again. A
  pause, never a permanent block; an administrator can end it sooner (unblock()).

How it is counted, atomically: each key (account:<email>, address:<client>,
device:<nonce>) has one row in sign_in_counters. Before the password is checked, the
attempt takes a place under each of its keys with a conditional UPDATE
  UPDATE sign_in_counters SET failures = failures + 1
  WHERE key = :key AND failures < :limit AND window_started_at > :now - WINDOW
which the database applies to the row atomically: PostgreSQL and MariaDB lock the row and
re-check the condition against the newest committed values (a concurrent attempt waits for
the first to commit), SQLite lets one writer at a time. So N workers on M machines together
pass at most `limit` attempts per window, however many arrive at once. A row whose window
has ended is restarted by a second conditional UPDATE; a missing row is inserted with no
failures (an insert that ignores a duplicate key, so two attempts may race to make it), then
counted by the same UPDATE. This runs in its own
transaction, on its own connection, committed before the password is checked: the count
stands whatever the request does next, and the request's own work is not committed with
it. An attempt refused under one key takes no place under the others (its transaction is
rolled back). The view ends its own read transaction first, so a request never holds two
connections. A sign-in that succeeds gives its place back, in the view's transaction: the
account's (and device's) failures are cleared, the address's place is returned, so the
address counts failures only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from .. import rules
from ..extensions import db
from ..models import SignInCounter, utcnow

WINDOW = timedelta(minutes=15)
ACCOUNT_LIMIT = 5  # failed attempts for one email within WINDOW, from unknown devices
DEVICE_LIMIT = 5  # failed attempts from one known device within WINDOW
CLIENT_LIMIT = 20  # failed attempts from one client address within WINDOW, unknown devices
RETRIES = 3  # a deadlock or a lost insert race is tried again, this many times in all

Counter = SignInCounter


def account_key(email: str) -> str:
    # What is typed may be longer than the columns: attempts are counted by what fits.
    return f"account:{email[: rules.EMAIL_MAX]}"


def address_key(client: str) -> str:
    return f"address:{client[: SignInCounter.CLIENT_MAX]}"


def device_key(nonce: str) -> str:
    return f"device:{nonce[:64]}"


@dataclass
class Attempt:
    """The places one sign-in attempt took, or until when (UTC) it is refused."""

    limits: dict[str, int] = field(default_factory=dict)
    refused_until: datetime | None = None


def _insert_ignoring_duplicate(conn: Connection, key: str, now: datetime) -> None:
    """A row for `key` with no failures yet, unless another attempt has just made one."""
    values = {"key": key, "failures": 0, "window_started_at": now}
    name = conn.dialect.name
    if name == "postgresql":
        stmt = postgresql.insert(Counter).values(values).on_conflict_do_nothing()
    elif name == "sqlite":
        stmt = sqlite.insert(Counter).values(values).on_conflict_do_nothing()
    else:  # MariaDB, MySQL
        stmt = insert(Counter).values(values).prefix_with("IGNORE")
    conn.execute(stmt)


def _take_place(conn: Connection, key: str, limit: int, now: datetime) -> datetime | None:
    """Count one attempt under `key`; None when it got a place, else when the key's window
    ends."""
    start = now - WINDOW
    for _ in range(RETRIES):  # the row exists from the second time on
        counted = conn.execute(
            update(Counter)
            .where(Counter.key == key, Counter.failures < limit, Counter.window_started_at > start)
            .values(failures=Counter.failures + 1)
        )
        if counted.rowcount == 1:
            return None
        restarted = conn.execute(
            update(Counter)
            .where(Counter.key == key, Counter.window_started_at <= start)
            .values(failures=1, window_started_at=now)
        )
        if restarted.rowcount == 1:
            return None
        row = conn.execute(
            select(Counter.window_started_at, Counter.failures).where(Counter.key == key)
        ).first()
        if row is not None and row.failures >= limit and row.window_started_at > start:
            return row.window_started_at + WINDOW  # at the limit in this window
        if row is not None:
            continue  # changed by another attempt between these statements: count again
        # Nothing counted yet under this key: make its row (or find another attempt's), then
        # count on it as above.
        _insert_ignoring_duplicate(conn, key, now)
    raise RuntimeError(f"could not count a sign-in attempt under {key}")


def _own_transaction(work: Callable[[Connection], object]):
    """Run `work` in a transaction of its own, committed at once (see the module's doc).
    READ COMMITTED where the database offers it, so MariaDB takes no gap locks and each
    statement sees what others committed; a deadlock is tried again."""
    for attempt in range(RETRIES):
        with db.engine.connect() as conn:
            if conn.dialect.name != "sqlite":
                conn.execution_options(isolation_level="READ COMMITTED")
            try:
                with conn.begin():
                    return work(conn)
            except OperationalError:
                if attempt == RETRIES - 1:
                    raise
    raise AssertionError("unreachable")


def begin(email: str, client: str, device: str | None) -> Attempt:
    """Count an attempt at signing in as `email` from `client` (`device`: the nonce of this
    browser's known-device cookie for that account, if it has one), before its password is
    checked. The attempt's `refused_until` says when it is refused."""
    if device is not None:
        limits = {device_key(device): DEVICE_LIMIT}
    else:
        limits = {account_key(email): ACCOUNT_LIMIT, address_key(client): CLIENT_LIMIT}
    now = utcnow()

    class _Refused(Exception):
        pass

    refused: list[datetime] = []

    def work(conn: Connection) -> None:
        # Always in the same order (devices or accounts, then addresses): two attempts never
        # wait for each other's rows crosswise.
        for key, limit in limits.items():
            until = _take_place(conn, key, limit, now)
            if until is not None:
                refused.append(until)
        if refused:
            raise _Refused  # rolls back the places taken under the other keys

    try:
        _own_transaction(work)
    except _Refused:
        return Attempt(limits, max(refused))
    # Attempts older than the window no longer count; drop their rows as we go.
    _own_transaction(
        lambda conn: conn.execute(delete(Counter).where(Counter.window_started_at <= now - WINDOW))
    )
    return Attempt(limits)


def succeeded(attempt: Attempt) -> None:
    """The password was right: the account's (device's) failures are forgotten, the place
    the attempt took under its address is given back. In the request's transaction: the
    view commits it with the sign-in."""
    for key in attempt.limits:
        if key.startswith("address:"):
            db.session.execute(
                update(Counter)
                .where(Counter.key == key, Counter.failures > 0)
                .values(failures=Counter.failures - 1)
            )
        else:
            db.session.execute(delete(Counter).where(Counter.key == key))


def paused_until(email: str) -> datetime | None:
    """Until when (UTC) sign-in to `email`'s account is paused for browsers it is not known
    on; None when it is not."""
    began, failures = db.session.execute(
        select(Counter.window_started_at, Counter.failures).where(Counter.key == account_key(email))
    ).first() or (None, 0)
    if began is None or failures < ACCOUNT_LIMIT or began + WINDOW <= utcnow():
        return None
    return began + WINDOW


def unblock(email: str) -> bool:
    """An administrator ends the pause of `email`'s account (in the request's transaction:
    the view commits it with its audit entry). Whether there was one."""
    paused = paused_until(email) is not None
    db.session.execute(delete(Counter).where(Counter.key == account_key(email)))
    return paused
