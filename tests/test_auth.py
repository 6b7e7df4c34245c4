"""Signing in and out: where sign-in leads, what a wrong password tells, the session, the
throttle, passwords, and the headers and escaping that keep the pages safe."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from helpers import (
    ADMIN_EMAIL,
    CSRF_RE,
    FAST_HASH,
    PASSWORD,
    TEST_SECRET,
    count,
    csrf_token,
    fetch,
    form_data,
    fresh_app,
    login,
    make_app,
    make_hospital,
    make_user,
    new_hospital_form,
    page_text,
    report_values,
    signed_in_client,
)
from markupsafe import escape
from sqlalchemy import select
from werkzeug.security import check_password_hash

from hospital_app import config as config_module
from hospital_app import create_app
from hospital_app.auth import devices
from hospital_app.auth.views import BAD_CREDENTIALS, DEACTIVATED
from hospital_app.extensions import db
from hospital_app.models import Account, AuditEntry, Hospital, Report, SignInCounter, utcnow

NEW_PASSWORD = "a brand new password 42"
THROTTLED = "Too many failed sign-in attempts"


def is_signed_in(client) -> bool:
    response = client.get("/hospitals")
    assert response.status_code in (200, 303)
    return response.status_code == 200


def location(response) -> str:
    """The Location header as a browser resolves it on this site: path and query."""
    parts = urlsplit(response.headers["Location"])
    assert parts.netloc in ("", "localhost"), response.headers["Location"]
    return parts.path + (f"?{parts.query}" if parts.query else "")


def login_with_next(client, next_url: str, email: str = ADMIN_EMAIL, password: str = PASSWORD):
    """Sign in through the form a browser gets at /login?next=…, posted to its own action."""
    page = client.get("/login?next=" + quote(next_url, safe="")).get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]*)"', page).group(1)
    token = CSRF_RE.search(page).group(1)
    return client.post(
        action.replace("&amp;", "&"),
        data={"email": email, "password": password, "csrf_token": token},
    )


# --- Where signing in leads ------------------------------------------------------------------


def test_a_signed_out_visit_comes_back_to_its_page_after_sign_in(app, anon, admin_id):
    hospital_id = make_hospital(app)
    wanted = f"/hospitals/{hospital_id}?page=1"
    bounce = anon.get(wanted)
    assert bounce.status_code == 303
    assert parse_qs(urlsplit(bounce.headers["Location"]).query)["next"] == [wanted]
    page = anon.get(bounce.headers["Location"])
    assert "Sign in to see that page." in page_text(page)
    response = login_with_next(anon, wanted)
    assert response.status_code == 303
    assert location(response) == wanted
    assert anon.get(wanted).status_code == 200


@pytest.mark.parametrize("target", ["/hospitals/5", "/hospitals?q=north&page=2", "/audit"])
def test_sign_in_goes_to_a_local_next(anon, admin_id, target):
    response = login_with_next(anon, target)
    assert response.status_code == 303
    assert location(response) == target


# Each of these would send the browser to another site (or run script) if followed.
FOREIGN_TARGETS = [
    "//evil.org",
    "//evil.org/hospitals",
    "///evil.org",
    "https://evil.org",
    "http://evil.org/",
    "http:/evil.org",
    "http:evil.org",
    "/\\evil.org",
    "\\\\evil.org",
    "/\\/evil.org",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    " //evil.org",
    "/\t/evil.org",
    "/\r\nLocation: https://evil.org",
    "evil.org",
]


@pytest.mark.parametrize("target", FOREIGN_TARGETS)
def test_sign_in_never_leads_to_another_site(anon, admin_id, target):
    page = anon.get("/login?next=" + quote(target, safe="")).get_data(as_text=True)
    assert 'action="/login"' in page  # the form does not carry the target on
    response = login_with_next(anon, target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert is_signed_in(anon)


@pytest.mark.parametrize("target", ["/%2F%2Fevil.org", "/%5Cevil.org", "/hospitals//evil.org"])
def test_encoded_slashes_stay_on_this_site(anon, admin_id, target):
    """Percent-encoded slashes are a path on this site, not a host: a browser stays here."""
    response = login_with_next(anon, target)
    assert response.status_code == 303
    header = response.headers["Location"]
    assert not header.replace("\\", "/").lstrip().startswith("//")
    assert urlsplit(header).netloc in ("", "localhost")
    assert "evil.org" not in urlsplit(header).netloc


@pytest.mark.parametrize(
    ("target", "lands_on"),
    [("/hospitals/7", "/hospitals/7"), ("//evil.org", "/"), ("https://evil.org", "/"), ("", "/")],
)
def test_the_login_page_sends_a_signed_in_person_on(client, target, lands_on):
    response = client.get("/login?next=" + quote(target, safe=""))
    assert response.status_code == 303
    assert response.headers["Location"] == lands_on


# --- What a failed sign-in tells -------------------------------------------------------------


def test_wrong_password_and_unknown_email_look_the_same(app, admin_id):
    """Nothing on the page, nor its status, tells whether an account exists for the email."""
    pages = {}
    for email, password in ((ADMIN_EMAIL, "not the password at all"), ("nobody@x.org", PASSWORD)):
        client = app.test_client()
        response = login(client, email, password)
        html = response.get_data(as_text=True).replace(email, "EMAIL")
        pages[email] = (response.status_code, CSRF_RE.sub("TOKEN", html))
        assert response.status_code == 422
        assert BAD_CREDENTIALS in page_text(response)
        assert not is_signed_in(client)
    assert pages[ADMIN_EMAIL] == pages["nobody@x.org"]
    text = page_text(response).lower()
    for telltale in ("no account", "not found", "unknown", "does not exist", "not registered"):
        assert telltale not in text


def test_a_deactivated_account_cannot_sign_in(app, anon):
    make_user(app, "editor", email="gone@example.org", active=False)
    response = login(anon, "gone@example.org")
    assert response.status_code == 403
    assert DEACTIVATED in page_text(response)
    assert not is_signed_in(anon)
    # With a wrong password it gets the same answer as anyone else.
    wrong = login(app.test_client(), "gone@example.org", "not the password at all")
    assert wrong.status_code == 422 and BAD_CREDENTIALS in page_text(wrong)
    with app.app_context():
        assert db.session.scalar(select(Account.last_login_at)) is None


@pytest.mark.parametrize(
    "typed", ["ADMIN@EXAMPLE.ORG", "Admin@Example.org", "  admin@example.org "]
)
def test_email_is_not_case_sensitive_at_sign_in(app, anon, admin_id, typed):
    response = login(anon, typed)
    assert response.status_code == 303
    assert is_signed_in(anon)
    assert fetch(app, Account, admin_id).last_login_at is not None


def test_empty_fields_are_field_errors_and_record_no_attempt(app, anon, admin_id):
    response = anon.post("/login", data={"csrf_token": csrf_token(anon, "/login")})
    assert response.status_code == 422
    text = page_text(response)
    assert "Enter your email address." in text and "Enter your password." in text
    assert count(app, SignInCounter) == 0


# --- The session -----------------------------------------------------------------------------


def test_signing_in_starts_a_new_session(app, anon, admin_id):
    """Nothing from before sign-in carries over: not a value planted in the session, not
    the CSRF token a page showed before (an attacker who fixed it would know it)."""
    token_before = csrf_token(anon, "/login")
    with anon.session_transaction() as session:
        session["planted"] = "by someone else"
    cookie_before = anon.get_cookie("session").value
    assert login(anon, ADMIN_EMAIL).status_code == 303
    assert anon.get_cookie("session").value != cookie_before
    with anon.session_transaction() as session:
        assert "planted" not in session
    refused = anon.post("/hospitals/new", data=new_hospital_form(token_before))
    assert refused.status_code == 400
    assert count(app, Hospital) == 0
    accepted = anon.post("/hospitals/new", data=new_hospital_form(csrf_token(anon)))
    assert accepted.status_code == 303
    assert count(app, Hospital) == 1


@pytest.mark.parametrize("session_id", ["{id}", "{id}:1", "{id}:x", "x:0", ""])
def test_a_session_naming_no_current_sign_in_is_signed_out(app, client, admin_id, session_id):
    """The session holds "id:generation"; anything else (an old format, a past generation)
    counts as signed out."""
    with client.session_transaction() as session:
        session["_user_id"] = session_id.format(id=admin_id)
    assert not is_signed_in(client)


def test_deactivating_an_account_ends_its_sessions_at_the_next_request(app, login_as):
    editor = login_as("editor")
    assert is_signed_in(editor)
    with app.app_context():
        db.session.scalar(select(Account).where(Account.role == "editor")).is_active = False
        db.session.commit()
    assert not is_signed_in(editor)


# --- Signing out -----------------------------------------------------------------------------


def test_sign_out_is_a_post(client):
    assert client.get("/logout").status_code == 405
    assert is_signed_in(client)


def test_sign_out_needs_the_token(client):
    response = client.post("/logout")
    assert response.status_code == 400
    assert "nothing was saved" in page_text(response)
    assert is_signed_in(client)
    forged = client.post("/logout", data={"csrf_token": "forged"})
    assert forged.status_code == 400 and is_signed_in(client)


def test_sign_out_ends_the_session(client):
    token = csrf_token(client, "/account/password")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert "You are signed out." in page_text(client.get("/login"))
    bounce = client.get("/hospitals/new")
    assert bounce.status_code == 303
    assert location(bounce) == "/login?next=/hospitals/new"
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_a_copy_of_the_session_cookie_stops_working_at_sign_out(app, client):
    """Signing out on a shared computer ends the session itself, not just this browser's
    cookie: a copy taken before (malware, a synced profile, a proxy log) is refused too."""
    copied = client.get_cookie("session").value
    token = csrf_token(client, "/account/password")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    replay = app.test_client()
    replay.set_cookie("session", copied)
    response = replay.get("/hospitals")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login")


def test_guessing_the_current_password_counts_as_failed_sign_ins(app, client):
    """Someone at an unattended, signed-in browser cannot try passwords without limit."""
    token = csrf_token(client, "/account/password")
    new = "a brand new pass phrase"

    def change(current: str):
        data = {"current": current, "password": new, "confirm": new, "csrf_token": token}
        return client.post("/account/password", data=data)

    for n in range(5):
        assert change(f"wrong guess {n}").status_code == 422
    response = change(PASSWORD)
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in page_text(response)
    with app.app_context():
        user = db.session.scalar(select(Account).where(Account.email == ADMIN_EMAIL))
        assert check_password_hash(user.password_hash, PASSWORD)  # unchanged


# --- CSRF ------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["missing", "garbage", "another session's"])
def test_a_form_without_its_own_token_is_refused(app, client, token):
    tokens = {
        "missing": None,
        "garbage": "not-a-token",
        "another session's": csrf_token(signed_in_client(app, ADMIN_EMAIL)),
    }
    data = new_hospital_form("")
    if tokens[token] is None:
        del data["csrf_token"]
    else:
        data["csrf_token"] = tokens[token]
    response = client.post("/hospitals/new", data=data)
    assert response.status_code == 400
    assert "security token was missing or had expired, so nothing was saved" in page_text(response)
    assert count(app, Hospital) == 0 and count(app, Report) == 0


def test_sign_in_itself_needs_the_token(app, anon, admin_id):
    response = anon.post("/login", data={"email": ADMIN_EMAIL, "password": PASSWORD})
    assert response.status_code == 400
    assert not is_signed_in(anon)


# --- Throttling ------------------------------------------------------------------------------


def assert_throttled(response, client):
    assert response.status_code == 429
    assert THROTTLED in page_text(response)
    assert "ask an administrator to reset it" in page_text(response)
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 15 * 60
    assert not is_signed_in(client)


def fail(client, email: str = ADMIN_EMAIL):
    response = login(client, email, "not the password at all")
    assert response.status_code == 422, page_text(response)


def test_five_failures_pause_the_account_even_for_the_right_password(app, anon, admin_id):
    for _ in range(5):
        fail(anon)
    response = login(anon, ADMIN_EMAIL)
    assert_throttled(response, anon)
    assert "(in about 15 minutes)" in page_text(response)
    # From another browser as well: the limit is the account's.
    other = app.test_client()
    assert_throttled(login(other, ADMIN_EMAIL), other)
    assert fetch(app, Account, admin_id).last_login_at is None


def test_four_failures_still_let_the_right_password_in(anon, admin_id):
    for _ in range(4):
        fail(anon)
    assert login(anon, ADMIN_EMAIL).status_code == 303


def test_a_paused_email_does_not_pause_other_accounts(app, anon, admin_id):
    make_user(app, "viewer", email="viewer@example.org")
    for _ in range(5):
        fail(anon)
    assert login(app.test_client(), "viewer@example.org").status_code == 303


def test_the_account_limit_ignores_the_case_of_the_email(anon, admin_id):
    for typed in (
        "ADMIN@example.org",
        "admin@EXAMPLE.org",
        "Admin@Example.Org",
        " ADMIN@EXAMPLE.ORG",
        ADMIN_EMAIL,
    ):
        fail(anon, typed)
    assert_throttled(login(anon, ADMIN_EMAIL), anon)


def test_twenty_failures_from_one_address_pause_it(app, admin_id):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    for n in range(20):
        fail(client, f"guess{n}@example.org")  # one failure each: no account limit reached
    assert_throttled(login(client, ADMIN_EMAIL), client)
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.11"
    assert login(elsewhere, ADMIN_EMAIL).status_code == 303


def test_nineteen_failures_from_one_address_do_not(app, admin_id):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    for n in range(19):
        fail(client, f"guess{n}@example.org")
    assert login(client, ADMIN_EMAIL).status_code == 303


def test_a_success_clears_the_accounts_failures(app, admin_id):
    client = app.test_client()
    for _ in range(4):
        fail(client)
    assert login(client, ADMIN_EMAIL).status_code == 303
    client = app.test_client()
    for _ in range(4):
        fail(client)
    assert login(client, ADMIN_EMAIL).status_code == 303
    assert counters(app) == {"address:127.0.0.1": 8}  # the address counts failures only


def test_a_success_does_not_clear_the_addresss_failures_on_other_accounts(app, admin_id):
    client = app.test_client()
    for n in range(18):
        fail(client, f"guess{n % 6}@example.org")  # three each: under the account limit
    assert login(client, ADMIN_EMAIL).status_code == 303
    client = app.test_client()
    for n in range(2):
        fail(client, f"more{n}@example.org")
    assert_throttled(login(client, ADMIN_EMAIL), client)


def test_the_limit_holds_across_app_instances_on_one_database(app, migrated_url, admin_id):
    """Two workers (or machines) share the database, so they share the count."""
    other = make_app(migrated_url)
    try:
        clients = [app.test_client(), other.test_client()]
        for n in range(5):
            fail(clients[n % 2])
        assert_throttled(login(clients[1], ADMIN_EMAIL), clients[1])
        assert_throttled(login(clients[0], ADMIN_EMAIL), clients[0])
    finally:
        with other.app_context():
            db.engine.dispose()


def counters(app) -> dict[str, int]:
    with app.app_context():
        return dict(db.session.execute(select(SignInCounter.key, SignInCounter.failures)).all())


@pytest.mark.parametrize(("minutes_ago", "throttled"), [(16, False), (14, True)])
@pytest.mark.parametrize("limit", ["account", "address"])
def test_a_pause_ends_15_minutes_after_the_first_failure(
    app, anon, admin_id, minutes_ago, throttled, limit
):
    """The failures are counted in a window that opens at the first of them: at the limit,
    the pause lasts until that window ends, never longer."""
    key, failures = (
        ("account:admin@example.org", 5) if limit == "account" else ("address:127.0.0.1", 20)
    )
    with app.app_context():
        db.session.add(
            SignInCounter(
                key=key,
                failures=failures,
                window_started_at=utcnow() - timedelta(minutes=minutes_ago),
            )
        )
        db.session.commit()
    response = login(anon, ADMIN_EMAIL)
    if throttled:
        assert_throttled(response, anon)
        assert int(response.headers["Retry-After"]) <= 60
        assert "(in about 1 minute)" in page_text(response)
        assert counters(app)[key] == failures  # a refused attempt is not counted
    else:
        assert response.status_code == 303


def test_after_the_window_the_count_starts_again(app, anon, admin_id):
    with app.app_context():
        db.session.add(
            SignInCounter(
                key="account:admin@example.org",
                failures=5,
                window_started_at=utcnow() - timedelta(minutes=16),
            )
        )
        db.session.commit()
    fail(anon)
    assert counters(app)["account:admin@example.org"] == 1


def test_old_counters_are_cleared_as_new_attempts_are_counted(app, anon, admin_id):
    with app.app_context():
        db.session.add(
            SignInCounter(
                key="account:x@example.org",
                failures=3,
                window_started_at=utcnow() - timedelta(hours=2),
            )
        )
        db.session.commit()
    fail(anon)
    assert counters(app) == {"account:admin@example.org": 1, "address:127.0.0.1": 1}


# --- Lock-out an attacker cannot aim: known devices and unblocking ----------------------------


def sign_out(client) -> None:
    assert (
        client.post(
            "/logout", data={"csrf_token": csrf_token(client, "/account/password")}
        ).status_code
        == 303
    )


def known_browser(app, email: str = ADMIN_EMAIL):
    """A browser its owner signed in with before (so it carries the known-device cookie),
    signed out since."""
    client = signed_in_client(app, email)
    sign_out(client)
    assert client.get_cookie(devices.COOKIE) is not None
    return client


def test_a_guesser_does_not_lock_the_owner_out_of_a_known_browser(app, admin_id):
    owner = known_browser(app)
    guesser = app.test_client()
    for _ in range(5):
        fail(guesser)
    assert_throttled(login(guesser, ADMIN_EMAIL), guesser)  # the guesser is still paused
    assert_throttled(login(app.test_client(), ADMIN_EMAIL), app.test_client())
    response = login(owner, ADMIN_EMAIL)
    assert response.status_code == 303
    assert is_signed_in(owner)
    assert fetch(app, Account, admin_id).last_login_at is not None
    # The guesser's failures still count: signing in from a known browser does not clear them.
    assert counters(app)["account:admin@example.org"] == 5


def test_a_known_browser_has_its_own_limit(app, admin_id):
    owner = known_browser(app)
    for _ in range(5):
        fail(owner)
    assert_throttled(login(owner, ADMIN_EMAIL), owner)
    # Its guesses were its own: the account is not paused for other browsers.
    assert login(app.test_client(), ADMIN_EMAIL).status_code == 303


def test_a_browser_is_known_only_for_the_accounts_signed_in_with_it(app, admin_id):
    make_user(app, "viewer", email="viewer@example.org")
    browser = known_browser(app)  # known for the administrator only
    guesser = app.test_client()
    for _ in range(5):
        fail(guesser, "viewer@example.org")
    assert_throttled(login(browser, "viewer@example.org"), browser)


@pytest.mark.parametrize("tamper", ["altered", "other secret"])
def test_a_forged_device_cookie_is_not_believed(app, admin_id, tamper):
    owner = known_browser(app)
    value = owner.get_cookie(devices.COOKIE).value
    if tamper == "altered":
        forged = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    else:
        with app.test_request_context():
            app.secret_key = "not the server's secret key, 32 characters at least"
            forged = devices._serializer().dumps([[admin_id, "0" * 16, "made-up"]])
            app.secret_key = TEST_SECRET
    attacker = app.test_client()
    attacker.set_cookie(devices.COOKIE, forged)
    for _ in range(5):
        fail(attacker)
    assert_throttled(login(attacker, ADMIN_EMAIL), attacker)


def test_a_new_password_forgets_the_known_browsers(app, client, admin_id):
    make_user(app, "viewer", email="viewer@example.org")
    owner = known_browser(app, "viewer@example.org")
    with app.app_context():
        viewer_id = db.session.scalar(
            select(Account.id).where(Account.email == "viewer@example.org")
        )
    response = client.post(
        f"/accounts/{viewer_id}/password",
        data={
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": csrf_token(client, f"/accounts/{viewer_id}/password"),
            "version": "1",
        },
    )
    assert response.status_code == 303, page_text(response)
    guesser = app.test_client()
    for _ in range(5):
        fail(guesser, "viewer@example.org")
    assert_throttled(login(owner, "viewer@example.org", NEW_PASSWORD), owner)


def test_known_browsers_behind_a_busy_address_still_sign_in(app, admin_id):
    """A whole hospital behind one NAT address: someone there tries twenty wrong passwords
    on many accounts. New browsers at that address are paused; those that signed in before
    are not."""
    owner = known_browser(app)
    owner.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    guesser = app.test_client()
    guesser.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    for n in range(20):
        fail(guesser, f"guess{n}@example.org")
    newcomer = app.test_client()
    newcomer.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    assert_throttled(login(newcomer, ADMIN_EMAIL), newcomer)
    assert login(owner, ADMIN_EMAIL).status_code == 303


def test_the_device_cookie_holds_no_secret_and_is_kept_from_scripts(app, admin_id):
    client = app.test_client()
    response = login(client, ADMIN_EMAIL)
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(devices.COOKIE))
    assert "HttpOnly" in header and "SameSite=Lax" in header
    stored = fetch(app, Account, admin_id).password_hash
    value = header.split(";")[0]
    assert PASSWORD not in value and stored not in value and stored.split("$")[-1] not in value


def pause(app, email: str = ADMIN_EMAIL) -> None:
    guesser = app.test_client()
    for _ in range(5):
        fail(guesser, email)


def test_an_administrator_unblocks_a_paused_account(app, client, admin_id):
    viewer_id = make_user(app, "viewer", email="viewer@example.org", name="Vera Viewer")
    pause(app, "viewer@example.org")
    page = client.get(f"/accounts/{viewer_id}/edit")
    assert "signing in to this account from a browser it has not used before is paused" in (
        page_text(page)
    )
    response = client.post(
        f"/accounts/{viewer_id}/unblock",
        data={"csrf_token": csrf_token(client, f"/accounts/{viewer_id}/edit")},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/accounts/{viewer_id}/edit"
    shown = page_text(client.get(response.headers["Location"]))
    assert "Vera Viewer can sign in again now" in shown
    assert "is paused" not in shown
    assert "account:viewer@example.org" not in counters(app)
    assert login(app.test_client(), "viewer@example.org").status_code == 303
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "unblock")).one()
        assert (entry.record_type, entry.record_id, entry.user_id) == (
            "account",
            viewer_id,
            admin_id,
        )
    assert "Unblock sign-in" in page_text(client.get(f"/accounts/{viewer_id}/history"))


def test_unblocking_an_account_that_is_not_paused_changes_nothing(app, client):
    viewer_id = make_user(app, "viewer", email="viewer@example.org", name="Vera Viewer")
    response = client.post(
        f"/accounts/{viewer_id}/unblock",
        data={"csrf_token": csrf_token(client, f"/accounts/{viewer_id}/edit")},
        follow_redirects=True,
    )
    assert "is not paused: nothing was changed" in page_text(response)
    assert count(app, AuditEntry, AuditEntry.action == "unblock") == 0


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_only_administrators_may_unblock(app, admin_id, login_as, role):
    pause(app)
    someone = login_as(role)
    response = someone.post(
        f"/accounts/{admin_id}/unblock",
        data={"csrf_token": csrf_token(someone, "/account/password")},
    )
    assert response.status_code == 403
    assert "Only administrators can manage accounts." in page_text(response)
    assert counters(app)["account:admin@example.org"] == 5


def test_unblocking_needs_the_token(app, client, admin_id):
    viewer_id = make_user(app, "viewer", email="viewer@example.org")
    pause(app, "viewer@example.org")
    assert client.post(f"/accounts/{viewer_id}/unblock").status_code == 400
    assert counters(app)["account:viewer@example.org"] == 5


@pytest.fixture
def proxied(migrated_url):
    """The app behind one reverse proxy (PROXY_COUNT=1), which connects from 10.0.0.1."""
    with fresh_app(migrated_url, PROXY_COUNT=1) as app:
        make_user(app, "admin", email=ADMIN_EMAIL)
        yield app


def client_behind_proxy(app, forwarded_for: str):
    client = app.test_client()
    client.environ_base.update(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded_for)
    return client


def test_behind_a_proxy_the_forwarded_address_is_the_one_counted(proxied):
    client = client_behind_proxy(proxied, "203.0.113.7")
    for n in range(20):
        fail(client, f"guess{n}@example.org")
    assert {k for k in counters(proxied) if k.startswith("address:")} == {"address:203.0.113.7"}
    assert_throttled(login(client, ADMIN_EMAIL), client)
    # A client cannot dodge the count by adding its own X-Forwarded-For: the proxy appends
    # the address it saw, and that last one is the one trusted.
    spoofing = client_behind_proxy(proxied, "198.51.100.1, 203.0.113.7")
    assert_throttled(login(spoofing, ADMIN_EMAIL), spoofing)
    # Another person behind the same proxy is not paused.
    neighbour = client_behind_proxy(proxied, "198.51.100.9")
    assert login(neighbour, ADMIN_EMAIL).status_code == 303


def test_without_a_proxy_a_forwarded_header_is_not_believed(app, admin_id):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    for n in range(20):
        client.environ_base["HTTP_X_FORWARDED_FOR"] = f"198.51.100.{n}"
        fail(client, f"guess{n}@example.org")
    assert {k for k in counters(app) if k.startswith("address:")} == {"address:192.0.2.10"}
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.200"
    assert_throttled(login(client, ADMIN_EMAIL), client)


# --- Password hashes -------------------------------------------------------------------------


@pytest.fixture
def default_hash_app(migrated_url):
    """The app as configured outside the tests: only what a deployment must set is given."""
    app = create_app(
        {"APP_ENV": "testing", "SQLALCHEMY_DATABASE_URI": migrated_url, "SECRET_KEY": TEST_SECRET}
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def test_the_configured_hash_is_scrypt_and_the_fast_one_only_a_test_setting(tmp_path):
    loaded = config_module.load(str(tmp_path), {"SECRET_KEY": "x" * 32}, env={})
    assert loaded["PASSWORD_HASH_METHOD"] == "scrypt"
    assert make_app("sqlite://").config["PASSWORD_HASH_METHOD"] == FAST_HASH


def test_accounts_store_a_salted_scrypt_hash_never_the_password(app, default_hash_app):
    result = default_hash_app.test_cli_runner().invoke(
        args=["create-user", "first@example.org", "--role", "admin", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    make_user(default_hash_app, "viewer", email="second@example.org")  # the same password
    with default_hash_app.app_context():
        hashes = db.session.scalars(select(Account.password_hash).order_by(Account.id)).all()
    assert len(hashes) == 2
    for stored in hashes:
        assert stored.startswith("scrypt:")
        assert PASSWORD not in stored and "horse" not in stored
    assert hashes[0] != hashes[1]  # salted: the same password, two hashes
    # … and it is the hash that signing in checks.
    assert signed_in_client(default_hash_app, "first@example.org")
    assert login(default_hash_app.test_client(), "first@example.org", "wrong").status_code == 422


# --- Changing one's own password -------------------------------------------------------------


def change_password(client, current: str, new: str, confirm: str | None = None):
    return client.post(
        "/account/password",
        data={
            "current": current,
            "password": new,
            "confirm": new if confirm is None else confirm,
            "csrf_token": csrf_token(client, "/account/password"),
        },
    )


def error_beside(response, field: str) -> str:
    match = re.search(rf'id="{field}-error">(.*?)</p>', response.get_data(as_text=True), re.S)
    return re.sub(r"<[^>]+>", " ", match.group(1)).replace("&#39;", "'") if match else ""


@pytest.mark.parametrize(
    ("current", "new", "confirm", "field", "message"),
    [
        ("not my password", NEW_PASSWORD, None, "current", "This is not your current password."),
        ("", NEW_PASSWORD, None, "current", "Enter your current password."),
        (PASSWORD, "elevenchars", None, "password", "Use at least 12 characters; this"),
        (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!", "confirm", "The two passwords are not"),
        (PASSWORD, PASSWORD, None, "password", "Choose a password different from the current"),
        (PASSWORD, ADMIN_EMAIL.upper(), None, "password", "cannot be the email address"),
        (PASSWORD, "aaaaaaaaaaaaaaaa", None, "password", "too easy to guess"),
        (PASSWORD, "", None, "password", "Enter the new password."),
    ],
)
def test_a_bad_password_change_says_why_and_changes_nothing(
    app, client, admin_id, current, new, confirm, field, message
):
    before = fetch(app, Account, admin_id)
    response = change_password(client, current, new, confirm)
    assert response.status_code == 422
    assert message in error_beside(response, field)
    after = fetch(app, Account, admin_id)
    assert (after.password_hash, after.session_generation, after.version) == (
        before.password_hash,
        before.session_generation,
        before.version,
    )
    assert is_signed_in(client)


def test_changing_the_password_signs_out_the_other_sessions_only(app, client, admin_id):
    elsewhere = signed_in_client(app, ADMIN_EMAIL)
    response = change_password(client, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 303
    assert "Your password was changed. Your other sessions were signed out." in page_text(
        client.get(response.headers["Location"], follow_redirects=True)
    )
    assert is_signed_in(client)
    assert not is_signed_in(elsewhere)
    assert login(app.test_client(), ADMIN_EMAIL, PASSWORD).status_code == 422
    assert login(app.test_client(), ADMIN_EMAIL, NEW_PASSWORD).status_code == 303
    stored = fetch(app, Account, admin_id)
    assert NEW_PASSWORD not in stored.password_hash
    assert stored.session_generation == 1


# --- Cookies and headers ---------------------------------------------------------------------


def session_cookie_header(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert len(cookies) == 1, response.headers.getlist("Set-Cookie")
    return cookies[0]


def test_the_session_cookie_is_kept_from_scripts_and_other_sites(app, anon, admin_id):
    anon.get("/login")
    header = session_cookie_header(login(anon, ADMIN_EMAIL))
    attributes = {part.strip().split("=")[0].lower(): part for part in header.split(";")}
    assert "httponly" in attributes
    assert attributes["samesite"].strip() == "SameSite=Lax"
    assert "expires" in attributes  # a sign-in lasts one shift, not until the browser quits
    assert ("secure" in attributes) == app.config["SESSION_COOKIE_SECURE"]


@pytest.mark.parametrize(("hours_ago", "signed_in"), [(11, True), (13, False)])
def test_a_sign_in_lasts_twelve_hours_however_busy(app, client, hours_ago, signed_in):
    """The cookie's expiry moves on with every response that touches the session; the
    sign-in itself does not: twelve hours after it, the person signs in again."""
    with client.session_transaction() as session:
        session["signed_in_at"] -= hours_ago * 3600
    response = client.get("/hospitals")
    assert response.status_code == (200 if signed_in else 303)
    if not signed_in:
        assert response.headers["Location"] == "/login?next=/hospitals"


def test_the_session_cookie_is_secure_when_configured(migrated_url):
    with fresh_app(migrated_url, SESSION_COOKIE_SECURE=True) as app:
        make_user(app, "admin", email=ADMIN_EMAIL)
        client, https = app.test_client(), "https://localhost"
        page = client.get("/login", base_url=https)
        header = session_cookie_header(page)
        assert "Secure" in [part.strip() for part in header.split(";")]
        assert "HttpOnly" in header and "SameSite=Lax" in header
        token = CSRF_RE.search(page.get_data(as_text=True)).group(1)
        signed_in = client.post(
            "/login",
            data={"email": ADMIN_EMAIL, "password": PASSWORD, "csrf_token": token},
            base_url=https,
            # Over HTTPS the CSRF check also wants the same-origin Referer a browser sends.
            headers={"Referer": f"{https}/login"},
        )
        assert signed_in.status_code == 303
        assert "Secure" in session_cookie_header(signed_in)
        listing = client.get("/hospitals", base_url=https)
        assert listing.status_code == 200
        assert listing.headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.fixture
def quiet_app(migrated_url):
    """Errors reach the 500 page instead of the test, as in production."""
    with fresh_app(migrated_url, PROPAGATE_EXCEPTIONS=False) as app:
        yield app


def every_kind_of_page(app, monkeypatch) -> dict:
    """{name: response} for pages of every kind: forms, lists, history, every error page."""
    make_user(app, "admin", email=ADMIN_EMAIL)
    make_user(app, "viewer", email="viewer@example.org")
    hospital_id = make_hospital(app)
    with app.app_context():
        report_id = db.session.scalar(select(Report.id))
    anon, admin = app.test_client(), signed_in_client(app, ADMIN_EMAIL)
    viewer = signed_in_client(app, "viewer@example.org")
    admin_id = fetch_id(app, ADMIN_EMAIL)
    pages = {
        "login": anon.get("/login"),
        "login, empty form sent": anon.post(
            "/login", data={"csrf_token": csrf_token(anon, "/login")}
        ),
        "login, no token (400)": app.test_client().post("/login"),
        "hospitals": admin.get("/hospitals"),
        "hospital": admin.get(f"/hospitals/{hospital_id}"),
        "new hospital, invalid": admin.post(
            "/hospitals/new", data=new_hospital_form(csrf_token(admin), code="")
        ),
        "edit hospital": admin.get(f"/hospitals/{hospital_id}/edit"),
        "new report": admin.get(f"/hospitals/{hospital_id}/reports/new"),
        "edit report": admin.get(f"/reports/{report_id}/edit"),
        "delete report": admin.get(f"/reports/{report_id}/delete"),
        "hospital history": admin.get(f"/hospitals/{hospital_id}/history"),
        "report history": admin.get(f"/reports/{report_id}/history"),
        "audit": admin.get("/audit"),
        "users": admin.get("/accounts"),
        "new user": admin.get("/accounts/new"),
        "edit user": admin.get(f"/accounts/{admin_id}/edit"),
        "user history": admin.get(f"/accounts/{admin_id}/history"),
        "own password": viewer.get("/account/password"),
        "403": viewer.get("/hospitals/new"),
        "404": admin.get("/hospitals/999999"),
        "405": admin.delete("/hospitals"),
        "healthz": anon.get("/healthz"),
        "stylesheet": anon.get("/static/css/app.css"),
    }
    for _ in range(5):
        login(anon, "viewer@example.org", "not the password at all")
    pages["429"] = login(anon, "viewer@example.org")

    def broken(*args, **kwargs):
        raise RuntimeError("injected fault")

    monkeypatch.setattr("hospital_app.hospitals.queries.regions_in_use", broken)
    pages["500"] = admin.get("/hospitals")
    expected = {"login, no token (400)": 400, "new hospital, invalid": 422, "403": 403}
    expected |= {"404": 404, "405": 405, "429": 429, "500": 500, "login, empty form sent": 422}
    for name, response in pages.items():
        assert response.status_code == expected.get(name, 200), name
    return pages


def fetch_id(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Account.id).where(Account.email == email))


ALLOWED_SOURCES = {"'self'", "'none'", "data:"}


def test_every_response_carries_the_security_headers(quiet_app, monkeypatch):
    for name, response in every_kind_of_page(quiet_app, monkeypatch).items():
        headers = response.headers
        policy = headers.get("Content-Security-Policy", "")
        directives = dict((d.split()[0], d.split()[1:]) for d in policy.split(";") if d.strip())
        assert directives.get("default-src") == ["'self'"], name
        assert directives.get("script-src") == ["'self'"], name
        assert directives.get("object-src") == ["'none'"], name
        assert directives.get("frame-ancestors") == ["'none'"], name
        for directive, sources in directives.items():
            # No 'unsafe-inline', 'unsafe-eval', wildcard, scheme or outside host anywhere.
            assert set(sources) <= ALLOWED_SOURCES, (name, directive, sources)
        assert headers.get("X-Content-Type-Options") == "nosniff", name
        assert headers.get("X-Frame-Options") == "DENY", name
        assert headers.get("Referrer-Policy") in ("same-origin", "no-referrer"), name
        if name != "stylesheet":
            assert "no-store" in headers.get("Cache-Control", ""), name


TAG_RE = re.compile(r"<[a-zA-Z][^>]*>")


def test_no_page_has_inline_script_style_or_handlers(quiet_app, monkeypatch):
    """The policy would block them in the browser, breaking the page: there must be none."""
    for name, response in every_kind_of_page(quiet_app, monkeypatch).items():
        if response.mimetype != "text/html":
            continue
        html = response.get_data(as_text=True)
        assert "<html" in html, name
        for tag in TAG_RE.findall(html):
            assert not re.match(r"<script\b", tag) or re.search(r'\ssrc="/static/', tag), (
                name,
                tag,
            )
            assert not re.match(r"<style\b", tag), (name, tag)
            assert not re.search(r"\sstyle\s*=", tag), (name, tag)
            assert not re.search(r"\son[a-z]+\s*=", tag, re.I), (name, tag)
            assert not re.search(r'(href|src|action)="\s*javascript:', tag, re.I), (name, tag)
            assert not re.search(r'\s(src|href)="(https?:)?//', tag), (name, tag)


# --- Escaping --------------------------------------------------------------------------------

PAYLOAD = "<script>alert(1)</script>\"'><img src=x onerror=alert(1)>"


def assert_escaped(response, name: str) -> None:
    html = response.get_data(as_text=True)
    assert response.status_code == 200, name
    assert "<script>alert" not in html and "<img src=x" not in html, name
    assert str(escape(PAYLOAD)) in html, f"{name}: the payload is not shown, escaped"


def test_text_people_typed_is_shown_as_text_everywhere(app, anon):
    """Hospital name, region, city, report notes and an account's name carry markup."""
    admin_id = make_user(app, "admin", email=ADMIN_EMAIL, name=PAYLOAD)
    admin = signed_in_client(app, ADMIN_EMAIL)
    created = admin.post(
        "/hospitals/new",
        data=new_hospital_form(
            csrf_token(admin),
            code="XSS-1",
            name=PAYLOAD,
            region=PAYLOAD,
            city=PAYLOAD,
            notes=PAYLOAD,
        ),
    )
    assert created.status_code == 303, page_text(created)
    hospital_id = int(created.headers["Location"].rsplit("/", 1)[1])
    assert_escaped(admin.get(created.headers["Location"]), "detail with the flash")
    with app.app_context():
        report_id = db.session.scalar(select(Report.id))
    # Changes put the payload on both sides of the trail's "old → new".
    edited = admin.post(
        f"/reports/{report_id}/edit",
        data={
            **form_data(report_values(notes="calm day", admissions=31)),
            "csrf_token": csrf_token(admin),
        },
    )
    assert edited.status_code == 303, page_text(edited)
    detail = admin.get(f"/hospitals/{hospital_id}")
    assert PAYLOAD in page_text(detail)  # what a person reads is the text they typed
    for url in (
        "/hospitals",
        "/hospitals?status=all&q=" + quote(PAYLOAD),
        f"/hospitals/{hospital_id}",
        f"/hospitals/{hospital_id}/edit",
        f"/hospitals/{hospital_id}/history",
        f"/hospitals/{hospital_id}/reports/new",
        f"/reports/{report_id}/history",
        f"/reports/{report_id}/delete",
        "/audit",
        "/accounts",
        f"/accounts/{admin_id}/edit",
        f"/accounts/{admin_id}/history",
        "/account/password",
    ):
        assert_escaped(admin.get(url), url)
    # A next= carrying markup is escaped in the login form's action.
    page = anon.get("/login?next=" + quote("/" + PAYLOAD, safe="")).get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page


# --- The first visit -------------------------------------------------------------------------


def test_with_no_accounts_the_login_page_says_how_to_create_the_first(app, anon):
    text = page_text(anon.get("/login"))
    assert "No accounts exist yet." in text
    assert "flask --app wsgi create-user" in text and "--role admin" in text


def test_once_an_account_exists_the_login_page_does_not(app, anon, admin_id):
    text = page_text(anon.get("/login"))
    assert "create-user" not in text and "No accounts exist yet." not in text
