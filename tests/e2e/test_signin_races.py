"""Races of signing in and of the last administrator, with real simultaneous requests to
gunicorn's worker processes: the limits must hold however the requests overlap. Each race is
run ROUNDS times, so a check-then-act gap (which loses only some races) shows."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import PASSWORD, make_user
from sqlalchemy import select, update

from e2e.http_client import TIMEOUT, Answer, Browser
from hospital_app.auth import throttle
from hospital_app.extensions import db
from hospital_app.models import Account, AuditEntry, SignInCounter

WORKERS = 4  # gunicorn workers for this module (e2e/conftest.py)
ROUNDS = 10
GUESSERS = 8  # simultaneous wrong passwords, more than the limit
LAST_ADMIN = "is the last active administrator"


class SigningIn(Browser):
    def login_form(self, email: str, password: str) -> Callable[[], Answer]:
        """The sign-in form filled in; the returned call posts it."""
        token = self.token(self.get("/login"))
        data = {"email": email, "password": password, "csrf_token": token}
        return lambda: self.post("/login", data)

    def sign_in(self, email: str) -> None:
        answer = self.login_form(email, PASSWORD)()
        assert answer.status == 303, answer.body


def at_once(preparations: list[Callable[[], Callable[[], Answer]]]) -> list[Answer]:
    """Each preparation runs in its own thread (signs in, opens a form) and gives the request
    to send; all are sent at the same moment."""
    start_together = threading.Barrier(len(preparations), timeout=TIMEOUT)

    def client(prepare) -> Answer:
        try:
            send = prepare()
        except BaseException:
            start_together.abort()  # release the others now rather than at the timeout
            raise
        start_together.wait()
        return send()

    with ThreadPoolExecutor(max_workers=len(preparations)) as pool:
        return list(pool.map(client, preparations, timeout=3 * TIMEOUT))


def failures(app, key: str) -> int | None:
    with app.app_context():
        return db.session.scalar(select(SignInCounter.failures).where(SignInCounter.key == key))


def test_simultaneous_wrong_passwords_are_checked_at_most_up_to_the_limit(app, live_server):
    """8 wrong passwords for one account at the same moment, on 4 workers: exactly 5 are
    checked (422), the others are refused unchecked (429), and the account is then paused,
    the right password too (from a browser that never signed in to it)."""
    since = live_server.log_offset()
    for n in range(ROUNDS):
        email = f"target{n}@example.org"
        make_user(app, "viewer", email=email)
        with app.app_context():  # this round's guesses only, not the address's earlier ones
            db.session.execute(db.delete(SignInCounter))
            db.session.commit()
        guess = [
            lambda email=email: SigningIn(live_server.url).login_form(email, "a wrong guess")
        ] * GUESSERS

        answers = at_once(guess)

        statuses = sorted(a.status for a in answers)
        limit = throttle.ACCOUNT_LIMIT
        assert statuses == [422] * limit + [429] * (GUESSERS - limit), f"round {n}: {statuses}"
        assert failures(app, throttle.account_key(email)) == limit
        owner = SigningIn(live_server.url).login_form(email, PASSWORD)()
        assert owner.status == 429, f"round {n}"
    log = live_server.log(since)
    assert "Traceback" not in log, log


def test_a_known_browser_signs_in_while_the_account_is_being_guessed(app, live_server):
    """The owner signed in from this browser before; now someone guesses at the account from
    elsewhere, many at once, past the limit. The owner still gets in, at the same moment."""
    email = "owner@example.org"
    make_user(app, "viewer", email=email)
    with app.app_context():
        db.session.execute(db.delete(SignInCounter))
        db.session.commit()
    owner = SigningIn(live_server.url)
    owner.sign_in(email)
    assert owner.post("/logout", {"csrf_token": owner.token(owner.get("/"))}).status == 303

    def guesser():
        return SigningIn(live_server.url).login_form(email, "a wrong guess")

    answers = at_once([guesser] * GUESSERS + [lambda: owner.login_form(email, PASSWORD)])

    assert answers[-1].status == 303, answers[-1].body  # the owner
    statuses = sorted(a.status for a in answers[:-1])
    limit = throttle.ACCOUNT_LIMIT
    assert statuses == [422] * limit + [429] * (GUESSERS - limit), statuses


def retire_administrators(app) -> None:
    """The administrators of earlier rounds become deactivated viewers: each round starts
    with exactly two active administrators."""
    with app.app_context():
        db.session.execute(
            update(Account).where(Account.role == "admin").values(role="viewer", is_active=False)
        )
        db.session.commit()


def active_administrators(app) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(Account.email).where(Account.role == "admin", Account.is_active)
            )
        )


def take_away(base: str, email: str, other_id: int, action: str) -> Callable[[], Answer]:
    """Sign in as `email`, open the form that takes the other administrator away (their
    role, or the account itself); the returned call submits it."""
    browser = SigningIn(base)
    browser.sign_in(email)
    if action == "demote":
        page = browser.get(f"/accounts/{other_id}/edit")
        version = re.search(r'name="version" type="hidden" value="(\d+)"', page.body).group(1)
        email_value = re.search(r'name="email"[^>]*value="([^"]+)"', page.body).group(1)
        name = re.search(r'name="display_name"[^>]*value="([^"]+)"', page.body).group(1)
        data = {
            "csrf_token": browser.token(page),
            "version": version,
            "email": email_value,
            "display_name": name,
            "role": "viewer",
        }
        return lambda: browser.post(f"/accounts/{other_id}/edit", data)
    page = browser.get(f"/accounts/{other_id}/deactivate")
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page.body).group(1)
    data = {"csrf_token": browser.token(page), "version": version}
    return lambda: browser.post(f"/accounts/{other_id}/deactivate", data)


@pytest.mark.parametrize("action", ["demote", "deactivate"])
def test_two_administrators_taking_each_other_away_leave_one(app, live_server, action):
    """The only two active administrators each take the other's role away (or deactivate
    the other) at the same moment, on different workers. One succeeds; the other is refused,
    since it would leave no administrator; exactly one remains."""
    since = live_server.log_offset()
    for n in range(ROUNDS):
        retire_administrators(app)
        emails = [f"first{n}@example.org", f"second{n}@example.org"]
        ids = [make_user(app, "admin", email=e, name=f"Admin {e[:-12]}") for e in emails]

        answers = at_once(
            [
                lambda me=emails[0], other=ids[1]: take_away(live_server.url, me, other, action),
                lambda me=emails[1], other=ids[0]: take_away(live_server.url, me, other, action),
            ]
        )

        statuses = [a.status for a in answers]
        assert len(active_administrators(app)) == 1, f"round {n}: {statuses}"
        # The other request is refused: by the last-administrator rule (422) when the two
        # overlapped, or by the policy (403) when it was read after the winner's commit, its
        # sender no longer an administrator.
        if action == "demote":
            assert sorted(statuses) in ([303, 403], [303, 422]), f"round {n}: {statuses}"
            for answer in answers:
                if answer.status == 422:
                    assert LAST_ADMIN in answer.body
        else:
            # To the account's page, or (deactivated meanwhile) to sign in.
            assert statuses == [303, 303], f"round {n}: {statuses}"
            with app.app_context():
                done = db.session.scalars(
                    select(AuditEntry.record_id).where(
                        AuditEntry.action == "deactivate", AuditEntry.record_id.in_(ids)
                    )
                ).all()
            assert len(done) == 1, f"round {n}"
    log = live_server.log(since)
    assert "Traceback" not in log, log
