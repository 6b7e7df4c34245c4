"""The app as deployed: gunicorn with several worker processes on one database. Many people
saving at the same moment must all be saved, by whichever worker takes their request, without
'database is locked' or any other error."""

from __future__ import annotations

import http.cookiejar
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import pytest
from helpers import (
    ADMIN_EMAIL,
    CSRF_RE,
    PASSWORD,
    count,
    fetch,
    hospital_form,
    make_hospital,
    make_user,
    new_hospital_form,
)

from hospital_app.models import Hospital, Report

CLIENTS = 30
TIMEOUT = 60  # seconds per request: far above normal, bounded if the server hangs
CREATED = '"POST /hospitals/new HTTP/1.1" 303'


class Answer(NamedTuple):
    status: int
    location: str | None
    body: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Keep the 303 itself (urllib then raises it as an HTTPError): it is the answer to check."""

    def redirect_request(self, *args, **kwargs):
        return None


def _open(opener, request) -> Answer:
    """One request's answer, error statuses included."""
    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            return Answer(
                response.status, response.headers.get("Location"), response.read().decode()
            )
    except urllib.error.HTTPError as error:
        with error:
            body = error.read().decode(errors="replace")
            return Answer(error.code, error.headers.get("Location"), body)


def new_hospital(page: str, token: str, values: dict) -> dict:
    return new_hospital_form(token, **values)


def edited_hospital(page: str, token: str, values: dict) -> dict:
    """The edit form as the browser sends it back: with the version the page was opened at."""
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)
    return {**hospital_form(token, **values), "version": version}


def post_at_once(url: str, forms: list[dict], fill=new_hospital) -> list[Answer]:
    """POST each form from its own thread and browser session, all at the same moment.

    Each client first signs in and GETs the form, as a browser would, for its session cookie
    and CSRF token (and the version an edit form carries); then all wait at a barrier and
    post together: the point is requests that overlap.
    """
    login_url = urllib.parse.urljoin(url, "/login")
    start_together = threading.Barrier(len(forms), timeout=TIMEOUT)

    def client(values: dict) -> Answer:
        # One cookie jar per client: each is a separate person with its own session.
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )
        try:
            login_form = _open(opener, login_url)
            token = CSRF_RE.search(login_form.body).group(1)
            credentials = {"email": ADMIN_EMAIL, "password": PASSWORD, "csrf_token": token}
            login = urllib.request.Request(  # noqa: S310 (our http URL)
                login_url, data=urllib.parse.urlencode(credentials).encode(), method="POST"
            )
            signed_in = _open(opener, login)
            assert signed_in.status == 303, signed_in.body
            form = _open(opener, url)
            assert form.status == 200, form.body
            match = CSRF_RE.search(form.body)
            assert match, "no CSRF token on the form"
        except BaseException:
            start_together.abort()  # release the others now rather than at the timeout
            raise
        data = urllib.parse.urlencode(fill(form.body, match.group(1), values)).encode()
        post = urllib.request.Request(url, data=data, method="POST")  # noqa: S310 (our http URL)
        start_together.wait()
        return _open(opener, post)

    with ThreadPoolExecutor(max_workers=len(forms)) as pool:
        return list(pool.map(client, forms, timeout=3 * TIMEOUT))


@pytest.fixture
def admin(app):
    make_user(app, "admin", email=ADMIN_EMAIL)


def test_concurrent_creates_are_all_saved(app, admin, live_server):
    since = live_server.log_offset()
    forms = [
        {"code": f"CON-{n:03d}", "name": f"Concurrent Hospital {n:03d}"} for n in range(CLIENTS)
    ]

    answers = post_at_once(f"{live_server.url}/hospitals/new", forms)

    failures = [a.body for a in answers if a.status != 303]
    assert [a.status for a in answers] == [303] * CLIENTS, failures[:1]
    locations = {a.location for a in answers}
    assert all(re.fullmatch(r"/hospitals/\d+", loc or "") for loc in locations), locations
    assert len(locations) == CLIENTS  # each to its own new hospital
    assert count(app, Hospital) == CLIENTS
    assert count(app, Report) == CLIENTS
    assert count(app, Hospital, Hospital.code.like("CON-%")) == CLIENTS

    log = live_server.wait_for_log(CREATED, CLIENTS, since=since)
    # The access log is the one being read: every POST is in it.
    assert log.count(CREATED) == CLIENTS, log
    assert "database is locked" not in log, log
    assert "Traceback" not in log, log


def test_concurrent_duplicate_codes_save_one(app, admin, live_server):
    """Several people register the same code at once: each request's check finds no clash,
    so the database's unique constraint decides. One is saved; the others see the form again
    with the clash named beside the code, not an error page."""
    since = live_server.log_offset()
    clients = 10
    forms = [{"code": "DUP-001", "name": f"Duplicate Hospital {n}"} for n in range(clients)]

    answers = post_at_once(f"{live_server.url}/hospitals/new", forms)

    statuses = sorted(a.status for a in answers)
    assert statuses == [303] + [422] * (clients - 1), [a.body for a in answers if a.status >= 500][
        :1
    ]
    for answer in answers:
        if answer.status == 422:
            assert "The code DUP-001 is already used by Duplicate Hospital" in answer.body
    assert count(app, Hospital) == 1
    assert count(app, Report) == 1

    log = live_server.wait_for_log(CREATED, 1, since=since)
    assert "database is locked" not in log, log
    assert "Traceback" not in log, log


def test_concurrent_edits_of_one_hospital_save_one_and_refuse_the_rest(app, admin, live_server):
    """Several people open the same hospital's edit form and save at the same moment, each
    from their own session, served by different worker processes. All were opened at
    version 1, so each passes the form's own check; the UPDATE's "AND version = 1" lets the
    first through and the others find the row changed: they get 409, nothing of theirs is
    written, and the first person's values stand."""
    hospital_id = make_hospital(app, name="Before")
    since = live_server.log_offset()
    clients = 8
    forms = [{"name": f"Editor {n}", "city": f"City {n}"} for n in range(clients)]

    answers = post_at_once(
        f"{live_server.url}/hospitals/{hospital_id}/edit", forms, fill=edited_hospital
    )

    statuses = sorted(a.status for a in answers)
    assert statuses == [303] + [409] * (clients - 1), [a.body for a in answers if a.status >= 500][
        :1
    ]
    winner = next(forms[i] for i, a in enumerate(answers) if a.status == 303)
    saved = fetch(app, Hospital, hospital_id)
    assert (saved.name, saved.city, saved.version) == (winner["name"], winner["city"], 2)
    for answer in answers:
        if answer.status == 409:
            assert "after you opened it, so nothing was saved" in answer.body
            assert winner["name"] in answer.body  # their value, beside yours
    log = live_server.wait_for_log('/edit HTTP/1.1" 303', 1, since=since)
    assert "Traceback" not in log, log


def test_served_by_several_workers(live_server):
    log = live_server.wait_for_log("Booting worker with pid", 3)
    assert log.count("Booting worker with pid") == 3, log


def test_healthz(live_server):
    healthz = f"{live_server.url}/healthz"
    with urllib.request.urlopen(healthz, timeout=TIMEOUT) as response:  # noqa: S310 (our http URL)
        assert response.status == 200
        assert response.headers.get_content_type() == "application/json"
        assert json.load(response)["status"] == "ok"
