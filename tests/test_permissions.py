"""Who may do what: every route, tried by every kind of person.

One table, read across: a route, then what each role gets. A refusal must say why and must
leave every table as it was; a permitted write must change something. The POST bodies are
valid forms with a valid CSRF token, so a refusal is the policy's doing, not validation's.
"""

# ruff: noqa: E501 -- the permission table is wider than a line: a row per route, a column per role
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers import (
    ADMIN_EMAIL,
    PASSWORD,
    csrf_token,
    form_data,
    make_hospital,
    make_user,
    new_hospital_form,
    page_text,
    report_values,
    signed_in_client,
    yesterday,
)
from sqlalchemy import select

from hospital_app.auth.throttle import account_key
from hospital_app.extensions import db
from hospital_app.models import (
    Account,
    AccountRegion,
    AuditEntry,
    ClosingException,
    FollowUp,
    Hospital,
    Report,
    ReportingSettings,
    SignInCounter,
    hospital_editors,
    utcnow,
)

ROLES = ("anonymous", "viewer", "reviewer", "editor", "other", "admin", "archived")


@dataclass(frozen=True)
class Refused:
    """A page that gives this reason: a 403, or a 409 when the record's state refuses."""

    reason: str
    status: int = 403


LOGIN = "sign in first"  # 303 to /login (with ?next=<path> for a GET)
NA = None  # the role is not tried on this route

CREATE = Refused("Only administrators can register hospitals.")
EDIT = Refused("Only administrators can change a hospital's details.")
ARCHIVE = Refused("Only administrators can archive or restore hospitals.")
USERS = Refused("Only administrators can manage accounts.")
AUDIT = Refused("Only administrators can see the whole audit trail.")
REMINDERS = Refused("Only administrators can see the email reminders sent to editors.")
SETTINGS = Refused("Only administrators can change the reporting settings.")
FOLLOW_UP = Refused("Only reviewers and administrators follow up unusual figures.")
HISTORY = Refused(
    "Only reviewers and administrators can restore a report or put back an earlier version."
)
READ_ONLY = Refused("Your account can see reports but not change them.")
NO_FIGURES = Refused("Reviewers check and sign off reports but do not type figures")
NOT_REV = Refused("Only reviewers and administrators review and sign off reports.")
NOT_MINE = Refused("You can change reports only for the hospitals assigned to you")
ARCHIVED = Refused(
    "is archived, so its reports cannot be added, changed or deleted. An administrator can "
    "restore it",
    status=409,
)
MOVED = 301  # an old address: a permanent redirect, whoever asks (legacy.py)
RESENT = 308  # the same, for a form sent to an old address: the browser sends it again

# {h}: the hospital the editor is assigned to, {r}: a report of it (for the editor of an
# archived hospital: that hospital and its report); {a}: an archived hospital; {u}: an active
# account, {x}: a deactivated one; {e}: an open closing exception for {h}; {d}: a deleted
# report of {h}; {v}: the audit entry of {r}'s creation; {f}: the follow-up of {r}'s confirmed
# unusual figures. "other" is the editor of another hospital; {s}: the signed-off report of
# that other hospital. "reviewer" reviews the region of both (North).
# fmt: off
MATRIX = [
    # method route                          anon    viewer     reviewer    editor     other      admin   archived
    ("GET", "/",                            LOGIN,  200,       200,        200,       200,       200,    NA),
    ("GET", "/hospitals",                   LOGIN,  200,       200,        200,       200,       200,    NA),
    ("GET", "/entry",                       LOGIN,  READ_ONLY, NO_FIGURES, 200,       200,       200,    NA),
    ("GET", "/entry/grid",                  LOGIN,  READ_ONLY, NO_FIGURES, 200,       200,       200,    NA),
    ("POST","/entry/grid",                  LOGIN,  READ_ONLY, NO_FIGURES, 303,       NOT_MINE,  303,    ARCHIVED),
    ("GET", "/hospitals/new",               LOGIN,  CREATE,    CREATE,     CREATE,    CREATE,    200,    NA),
    ("POST","/hospitals/new",               LOGIN,  CREATE,    CREATE,     CREATE,    CREATE,    303,    NA),
    ("GET", "/hospitals/{h}",               LOGIN,  200,       200,        200,       200,       200,    NA),
    ("GET", "/hospitals/{h}/edit",          LOGIN,  EDIT,      EDIT,       EDIT,      EDIT,      200,    NA),
    ("POST","/hospitals/{h}/edit",          LOGIN,  EDIT,      EDIT,       EDIT,      EDIT,      303,    NA),
    ("GET", "/hospitals/{h}/archive",       LOGIN,  ARCHIVE,   ARCHIVE,    ARCHIVE,   ARCHIVE,   200,    NA),
    ("POST","/hospitals/{h}/archive",       LOGIN,  ARCHIVE,   ARCHIVE,    ARCHIVE,   ARCHIVE,   303,    NA),
    ("POST","/hospitals/{a}/restore",       LOGIN,  ARCHIVE,   ARCHIVE,    ARCHIVE,   ARCHIVE,   303,    ARCHIVE),
    ("GET", "/hospitals/{h}/reports/new",   LOGIN,  READ_ONLY, NO_FIGURES, 200,       NOT_MINE,  200,    ARCHIVED),
    ("POST","/hospitals/{h}/reports/new",   LOGIN,  READ_ONLY, NO_FIGURES, 303,       NOT_MINE,  303,    ARCHIVED),
    ("GET", "/reports/{r}/edit",            LOGIN,  READ_ONLY, NO_FIGURES, 200,       NOT_MINE,  200,    ARCHIVED),
    ("POST","/reports/{r}/edit",            LOGIN,  READ_ONLY, NO_FIGURES, 303,       NOT_MINE,  303,    ARCHIVED),
    ("GET", "/reports/{r}/delete",          LOGIN,  READ_ONLY, NO_FIGURES, 200,       NOT_MINE,  200,    ARCHIVED),
    ("POST","/reports/{r}/delete",          LOGIN,  READ_ONLY, NO_FIGURES, 303,       NOT_MINE,  303,    ARCHIVED),
    ("GET", "/hospitals/{h}/history",       LOGIN,  200,       200,        200,       200,       200,    200),
    ("GET", "/hospitals/export.csv",        LOGIN,  200,       200,        200,       200,       200,    NA),
    ("GET", "/reports",                     LOGIN,  200,       200,        200,       200,       200,    NA),
    ("GET", "/reports/export.csv",          LOGIN,  200,       200,        200,       200,       200,    NA),
    ("GET", "/review",                      LOGIN,  NOT_REV,   200,        NOT_REV,   NOT_REV,   200,    NA),
    ("POST","/review/sign-off",             LOGIN,  NOT_REV,   303,        NOT_REV,   NOT_REV,   303,    NA),
    ("GET", "/review/{s}/reopen",           LOGIN,  NOT_REV,   200,        NOT_REV,   NOT_REV,   200,    NA),
    ("POST","/review/{s}/reopen",           LOGIN,  NOT_REV,   303,        NOT_REV,   NOT_REV,   303,    NA),
    ("GET", "/timeliness",                  LOGIN,  200,       200,        200,       200,       200,    NA),
    ("GET", "/timeliness/export.csv",       LOGIN,  200,       200,        200,       200,       200,    NA),
    ("GET", "/reports/import",              LOGIN,  READ_ONLY, NO_FIGURES, 200,       200,       200,    NA),
    ("POST","/reports/import",              LOGIN,  READ_ONLY, NO_FIGURES, 422,       422,       422,    NA),
    ("GET", "/reports/import/template.csv", LOGIN,  READ_ONLY, NO_FIGURES, 200,       200,       200,    NA),
    ("GET", "/reports/import/prefilled.csv",LOGIN,  READ_ONLY, NO_FIGURES, 200,       200,       200,    NA),
    ("GET", "/dashboard/missing",           LOGIN,  200,       200,        200,       200,       200,    NA),
    ("GET", "/dashboard/pressure",          LOGIN,  200,       200,        200,       200,       200,    NA),
    ("GET", "/dashboard/outliers",          LOGIN,  200,       200,        200,       200,       200,    NA),
    ("GET", "/reports/{r}/history",         LOGIN,  200,       200,        200,       200,       200,    200),
    ("GET", "/reports/{d}/history",         LOGIN,  200,       200,        200,       200,       200,    NA),
    ("POST","/reports/{d}/restore",         LOGIN,  HISTORY,   303,        HISTORY,   HISTORY,   303,    NA),
    ("POST","/reports/{r}/revert/{v}",      LOGIN,  HISTORY,   303,        HISTORY,   HISTORY,   303,    HISTORY),
    ("GET", "/followup",                    LOGIN,  200,       200,        200,       200,       200,    NA),
    ("POST","/followup/{f}/check",          LOGIN,  FOLLOW_UP, 303,        FOLLOW_UP, FOLLOW_UP, 303,    NA),
    ("POST","/followup/{f}/send-back",      LOGIN,  FOLLOW_UP, 303,        FOLLOW_UP, FOLLOW_UP, 303,    NA),
    ("GET", "/audit",                       LOGIN,  AUDIT,     AUDIT,      AUDIT,     AUDIT,     200,    NA),
    ("GET", "/reminders",                   LOGIN,  REMINDERS, REMINDERS,  REMINDERS, REMINDERS, 200,    REMINDERS),
    ("GET", "/settings",                    LOGIN,  SETTINGS,  SETTINGS,   SETTINGS,  SETTINGS,  200,    SETTINGS),
    ("POST","/settings",                    LOGIN,  SETTINGS,  SETTINGS,   SETTINGS,  SETTINGS,  303,    SETTINGS),
    ("GET", "/settings/exceptions",         LOGIN,  SETTINGS,  SETTINGS,   SETTINGS,  SETTINGS,  200,    SETTINGS),
    ("GET", "/settings/exceptions/new",     LOGIN,  SETTINGS,  SETTINGS,   SETTINGS,  SETTINGS,  200,    SETTINGS),
    ("POST","/settings/exceptions/new",     LOGIN,  SETTINGS,  SETTINGS,   SETTINGS,  SETTINGS,  303,    SETTINGS),
    ("POST","/settings/exceptions/{e}/end", LOGIN,  SETTINGS,  SETTINGS,   SETTINGS,  SETTINGS,  303,    SETTINGS),
    ("GET", "/accounts",                    LOGIN,  USERS,     USERS,      USERS,     USERS,     200,    NA),
    ("GET", "/accounts/new",                LOGIN,  USERS,     USERS,      USERS,     USERS,     200,    NA),
    ("POST","/accounts/new",                LOGIN,  USERS,     USERS,      USERS,     USERS,     303,    NA),
    ("GET", "/accounts/{u}/edit",           LOGIN,  USERS,     USERS,      USERS,     USERS,     200,    NA),
    ("POST","/accounts/{u}/edit",           LOGIN,  USERS,     USERS,      USERS,     USERS,     303,    NA),
    ("GET", "/accounts/{u}/deactivate",     LOGIN,  USERS,     USERS,      USERS,     USERS,     200,    NA),
    ("POST","/accounts/{u}/deactivate",     LOGIN,  USERS,     USERS,      USERS,     USERS,     303,    NA),
    ("POST","/accounts/{x}/activate",       LOGIN,  USERS,     USERS,      USERS,     USERS,     303,    NA),
    ("POST","/accounts/{u}/unblock",        LOGIN,  USERS,     USERS,      USERS,     USERS,     303,    NA),
    ("GET", "/accounts/{u}/password",       LOGIN,  USERS,     USERS,      USERS,     USERS,     200,    NA),
    ("POST","/accounts/{u}/password",       LOGIN,  USERS,     USERS,      USERS,     USERS,     303,    NA),
    ("GET", "/accounts/{u}/history",        LOGIN,  USERS,     USERS,      USERS,     USERS,     200,    NA),
    ("GET", "/account/password",            LOGIN,  200,       200,        200,       200,       200,    NA),
    ("POST","/account/password",            LOGIN,  422,       422,        422,       422,       422,    NA),
    ("POST","/logout",                      303,    303,       303,        303,       303,       303,    NA),
    ("GET", "/login",                       200,    303,       303,        303,       303,       303,    NA),
    ("POST","/login",                       422,    303,       303,        303,       303,       303,    NA),
    ("GET", "/healthz",                     200,    200,       200,        200,       200,       200,    NA),
    ("GET", "/stats",                       MOVED,  MOVED,     MOVED,      MOVED,     MOVED,     MOVED,  NA),
    ("GET", "/stats/{r}/edit",              MOVED,  MOVED,     MOVED,      MOVED,     MOVED,     MOVED,  NA),
    ("POST","/stats/{r}/delete",            RESENT, RESENT,    RESENT,     RESENT,    RESENT,    RESENT, NA),
    ("GET", "/hospitals/{h}/stats/new",     MOVED,  MOVED,     MOVED,      MOVED,     MOVED,     MOVED,  NA),
    ("GET", "/users",                       MOVED,  MOVED,     MOVED,      MOVED,     MOVED,     MOVED,  NA),
    ("POST","/users/{u}/deactivate",        RESENT, RESENT,    RESENT,     RESENT,    RESENT,    RESENT, NA),
]
# fmt: on

CASES = [
    pytest.param(method, route, role, expected, id=f"{method} {route} as {role}")
    for method, route, *expectations in MATRIX
    for role, expected in zip(ROLES, expectations, strict=True)
    if expected is not NA
]

# POSTs that change records (and leave an audit entry) when they are allowed.
WRITES = {
    (method, route)
    for method, route, *expected in MATRIX
    if method == "POST" and expected[-2] != RESENT
} - {
    ("POST", "/logout"),  # signing out: checked on its own below
    # Sent with no fields: let through by the policy, then refused by the form (422).
    ("POST", "/login"),
    ("POST", "/account/password"),
    ("POST", "/reports/import"),
}
NEW_PASSWORD = "a brand new password 42"


# --- The world every case runs in ------------------------------------------------------------


@dataclass
class World:
    app: object
    ids: dict[str, dict[str, int]]  # per role: what {h}, {r}, {u}… stand for
    other: int  # the hospital the editor of another hospital is assigned to
    admin: object  # an administrator's client, to read the forms a refused role cannot open

    def url(self, route: str, role: str) -> str:
        return route.format(**self.ids[role])


@pytest.fixture
def world(app) -> World:
    mine = make_hospital(app)  # NRH-001, with yesterday's report
    other = make_hospital(app, code="OTH-1", name="Other Hospital")
    archived = make_hospital(app, code="ARC-1", name="Archived Hospital")
    with app.app_context():
        db.session.get(Hospital, archived).is_active = False
        db.session.commit()
        report_of = {
            h: db.session.scalar(select(Report.id).where(Report.hospital_id == h))
            for h in (mine, other, archived)
        }
    with app.app_context():
        exception = ClosingException(
            hospital_id=mine,
            date_from=yesterday() - timedelta(days=30),
            date_to=yesterday() - timedelta(days=20),
            ends_at=utcnow() + timedelta(hours=48),
            reason="Late corrections",
        )
        db.session.add(exception)
        db.session.commit()
        opened = exception.id
    with app.app_context():
        gone = Report(hospital_id=mine, **report_values(report_date=yesterday() - timedelta(3)))
        db.session.add(gone)
        db.session.commit()
        deleted = gone.id
        db.session.delete(gone)
        db.session.commit()
        created = {
            report: db.session.scalar(
                select(AuditEntry.id).where(
                    AuditEntry.record_type == "report",
                    AuditEntry.record_id == report,
                    AuditEntry.action == "create",
                )
            )
            for report in report_of.values()
        }
    with app.app_context():
        pending = FollowUp(report_id=report_of[mine], fields="admissions", reason="surge")
        db.session.add(pending)
        db.session.commit()
        follow_up = pending.id
    make_user(app, "admin", email=ADMIN_EMAIL)
    target = make_user(app, "viewer", email="target@example.org", name="Tara Target")
    inactive = make_user(app, "viewer", email="gone@example.org", name="Gil Gone", active=False)
    with app.app_context():
        # The other hospital's report, signed off (by the administrator): what reopens.
        signed = db.session.get(Report, report_of[other])
        signed.signed_off_by_id = db.session.scalar(
            select(Account.id).where(Account.email == ADMIN_EMAIL)
        )
        signed.signed_off_at = utcnow()
        db.session.commit()
    common = {
        "a": archived,
        "u": target,
        "x": inactive,
        "e": opened,
        "s": report_of[other],
        "d": deleted,
        "f": follow_up,
    }
    ids = {
        role: {**common, "h": mine, "r": report_of[mine], "v": created[report_of[mine]]}
        for role in ROLES
    }
    ids["archived"].update(h=archived, r=report_of[archived], v=created[report_of[archived]])
    return World(app, ids, other, signed_in_client(app, ADMIN_EMAIL))


def client_for(world: World, role: str):
    """A browser of `role`: nobody's, or a new account's, signed in through the login form."""
    app = world.app
    if role == "anonymous":
        return app.test_client()
    if role == "admin":
        return signed_in_client(app, ADMIN_EMAIL)
    assigned = {
        "viewer": (),
        "reviewer": (),
        "editor": (world.ids["editor"]["h"],),
        "other": (world.other,),
        "archived": (world.ids["archived"]["h"],),
    }[role]
    email = f"{role}@example.org"
    if role == "reviewer":
        make_user(app, "reviewer", email=email, regions=("North",))
        return signed_in_client(app, email)
    make_user(app, "viewer" if role == "viewer" else "editor", email=email, hospitals=assigned)
    return signed_in_client(app, email)


class FormReader(HTMLParser):
    """The fields of the form posting to `action`, with the values a browser would send."""

    def __init__(self, action: str):
        super().__init__()
        self.action, self.inside, self.fields = action, False, {}
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action") == self.action
        elif not self.inside or ("name" not in a and tag != "option"):
            return
        elif tag == "input" and a.get("type") not in ("submit", "button"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.fields.setdefault(a["name"], []).append(a.get("value") or "")
        elif tag == "select":
            self.select = a["name"]
            self.fields.setdefault(self.select, [])
        elif tag == "option" and self.select and "selected" in a:
            self.fields[self.select].append(a.get("value") or "")
        elif tag == "textarea":
            self.textarea = a["name"]
            self.fields[self.textarea] = [""]

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data):
        if self.textarea:
            self.fields[self.textarea][0] += data.removeprefix("\n")


def form_on_page(client, url: str, action: str | None = None) -> dict[str, list[str]]:
    response = client.get(url)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    reader = FormReader(action or url)
    reader.feed(response.get_data(as_text=True))
    assert reader.fields, f"no form posting to {action or url} on {url}"
    return reader.fields


def post_body(world: World, route: str, role: str, token: str) -> dict:
    """A form that would be saved if the policy let it through."""
    url = world.url(route, role)
    if route == "/hospitals/new":
        return new_hospital_form(token, code="NEW-1", name="Brand New Hospital")
    if route == "/hospitals/{h}/reports/new":
        day = yesterday() - timedelta(days=1)
        return {**form_data(report_values(report_date=day, admissions=7)), "csrf_token": token}
    if route == "/entry/grid":
        # A row typed for {h} for today, which it has no report of (posted by hand by
        # those whose grid does not show it).
        h = world.ids[role]["h"]
        # 7 admitted, 6 discharged, 1 died: yesterday's 150 beds add up (census check).
        values = report_values(admissions=7, discharges=6)
        row = {f"h{h}-{k}": v for k, v in form_data(values).items()}
        return {"csrf_token": token, **row}
    if route == "/reports/{r}/edit" and role == "archived":
        # Nobody may open it (the hospital is archived): what the form would have sent.
        day = yesterday().isoformat()
        return {**form_data(report_values(report_date=day)), "version": "1", "csrf_token": token}
    if route in ("/hospitals/{h}/edit", "/reports/{r}/edit", "/accounts/{u}/edit"):
        # What the administrator's browser would send, with one field changed.
        fields = form_on_page(world.admin, url)
        change = {
            "/hospitals/{h}/edit": ("name", "Renamed Hospital"),
            "/reports/{r}/edit": ("admissions", "77"),
            "/accounts/{u}/edit": ("display_name", "Tara Renamed"),
        }[route]
        fields[change[0]] = [change[1]]
        return {**fields, "csrf_token": token}
    if route == "/accounts/new":
        fields = form_on_page(world.admin, url)
        fields.update(
            email=["newcomer@example.org"],
            display_name=["Nina Newcomer"],
            role=["viewer"],
            password=[NEW_PASSWORD],
            confirm=[NEW_PASSWORD],
        )
        return {**fields, "csrf_token": token}
    if route == "/settings":
        fields = form_on_page(world.admin, url)
        fields["deadline_time"] = ["18:00"]
        return {**fields, "csrf_token": token}
    if route == "/settings/exceptions/new":
        return {
            "hospital": str(world.ids[role]["h"]),
            "date_from": (yesterday() - timedelta(days=14)).isoformat(),
            "date_to": (yesterday() - timedelta(days=10)).isoformat(),
            "hours": "24",
            "reason": "Corrections from the lab",
            "csrf_token": token,
        }
    if route == "/accounts/{u}/unblock":
        # {u}'s sign-in is paused (five failures just now): there is something to unblock.
        with world.app.app_context():
            email = db.session.get(Account, world.ids[role]["u"]).email
            db.session.merge(
                SignInCounter(key=account_key(email), failures=5, window_started_at=utcnow())
            )
            db.session.commit()
        return {"csrf_token": token}
    if route == "/reports/{r}/revert/{v}":
        # The report changed since it was created, so putting its first version back is a
        # change; the button sends the version the history page showed.
        report_id = world.ids[role]["r"]
        with world.app.app_context():
            report = db.session.get(Report, report_id)
            report.admissions += 1
            db.session.commit()
            version = report.version
        return {"csrf_token": token, "version": str(version)}
    if route in ("/followup/{f}/check", "/followup/{f}/send-back"):
        return {"csrf_token": token, "version": "1", "comment": "Checked with the ward"}
    if route == "/review/sign-off":
        page = f"/review?region=North&date={yesterday().isoformat()}"
        return {**form_on_page(world.admin, page, "/review/sign-off"), "csrf_token": token}
    if route == "/review/{s}/reopen":
        fields = form_on_page(world.admin, url)
        return {**fields, "reason": ["The admissions look low"], "csrf_token": token}
    if route == "/accounts/{u}/password":
        return {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": token}
    return {"csrf_token": token}  # archive, restore, delete, (de)activate, sign out


# Every table a request could write to; each row whole, so a changed value shows too.
TABLES = (
    Hospital.__table__,
    Report.__table__,
    Account.__table__,
    hospital_editors,
    AccountRegion.__table__,
    ReportingSettings.__table__,
    ClosingException.__table__,
    SignInCounter.__table__,
    FollowUp.__table__,
)


def snapshot(app) -> dict:
    with app.app_context():
        rows = {
            table.name: db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
            for table in TABLES
        }
        # The audit trail only grows: its length says whether anything was recorded.
        rows["audit_log"] = db.session.scalar(select(db.func.count(AuditEntry.id)))
        return rows


# --- The test --------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "route", "role", "expected"), CASES)
def test_route_as_role(world, method, route, role, expected):
    app = world.app
    client = client_for(world, role)
    url = world.url(route, role)
    data = None
    if method == "POST":
        # The role's own token, from a page the role may open.
        token = csrf_token(client, "/login" if role == "anonymous" else "/account/password")
        data = post_body(world, route, role, token)

    before = snapshot(app)
    response = client.open(url, method=method, data=data)
    after = snapshot(app)

    if expected == LOGIN:
        assert response.status_code == 303
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login"
        wanted_next = [url] if method == "GET" else []
        assert parse_qs(location.query).get("next", []) == wanted_next
        assert after == before
    elif isinstance(expected, Refused):
        assert response.status_code == expected.status
        text = page_text(response)
        assert expected.reason in text, text
        assert "Nothing was changed." in text
        assert after == before, "a refused request changed the database"
    else:
        assert response.status_code == expected, page_text(response)
        if (method, route) in WRITES:
            assert after != before, "the request was accepted but nothing was saved"
            assert after["audit_log"] > before["audit_log"], "the change left no audit entry"
        elif (method, route) == ("POST", "/logout") and role != "anonymous":
            # Signing out ends the session on the server: the account's session generation
            # rises, and nothing else changes (no audit entry: it is not an edit).
            changed = [
                (old, new)
                for old, new in zip(before["users"], after["users"], strict=True)
                if old != new
            ]
            assert len(changed) == 1
            assert {**before, "users": None} == {**after, "users": None}
        else:
            assert after == before, "a read changed the database"


def test_the_table_covers_every_route_and_method_of_the_app(app):
    """A route added without a row here fails: each address and method the app answers is
    tried by every role above."""
    urls = app.url_map.bind("localhost")
    covered = set()
    for method, route, *_ in MATRIX:
        rule, _args = urls.match(
            route.format(h=1, r=1, a=1, u=1, x=1, e=1, s=1, d=1, v=1, f=1), method, return_rule=True
        )
        covered.add((rule.rule, method))
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        if rule.endpoint.startswith("legacy."):
            # One old address of each kind is enough: they share one view.
            assert any(r == rule.rule for r, _ in covered), rule.rule
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (rule.rule, method) in covered, f"{method} {rule.rule} is not in MATRIX"


# --- What the table cannot say ---------------------------------------------------------------


def test_signed_in_people_are_sent_on_from_the_login_page_and_anonymous_out_of_logout(world):
    assert client_for(world, "viewer").get("/login").headers["Location"] == "/"
    anon = client_for(world, "anonymous")
    token = csrf_token(anon, "/login")
    response = anon.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"


@pytest.mark.parametrize("role", ["viewer", "reviewer", "editor", "other"])
def test_pages_offer_only_the_actions_the_role_may_take(world, role):
    """The buttons follow the same policy as the routes: nobody is shown a way to a 403."""
    client = client_for(world, role)
    h = world.ids[role]["h"]
    detail = client.get(f"/hospitals/{h}").get_data(as_text=True)
    header = client.get("/hospitals").get_data(as_text=True)
    assert f'href="/hospitals/{h}/edit"' not in detail
    assert f'action="/hospitals/{h}/archive"' not in detail
    assert 'href="/hospitals/new"' not in header
    assert 'href="/accounts"' not in header and 'href="/audit"' not in header
    may_write = role == "editor"
    assert (f'href="/hospitals/{h}/reports/new"' in detail) == may_write
    assert (f'href="/reports/{world.ids[role]["r"]}/edit"' in detail) == may_write


def test_an_administrator_is_shown_every_action(world):
    h = world.ids["admin"]["h"]
    detail = world.admin.get(f"/hospitals/{h}").get_data(as_text=True)
    header = world.admin.get("/hospitals").get_data(as_text=True)
    for link in (f'href="/hospitals/{h}/edit"', f'href="/hospitals/{h}/archive"'):
        assert link in detail
    for link in ('href="/hospitals/new"', 'href="/accounts"', 'href="/audit"'):
        assert link in header


def test_an_editor_loses_the_hospital_when_unassigned(world):
    """Assignments are read per request: taking a hospital away works at once."""
    client = client_for(world, "editor")
    url = f"/hospitals/{world.ids['editor']['h']}/reports/new"
    assert client.get(url).status_code == 200
    with world.app.app_context():
        user = db.session.scalar(select(Account).where(Account.email == "editor@example.org"))
        user.hospitals = []
        db.session.commit()
    response = client.get(url)
    assert response.status_code == 403
    assert NOT_MINE.reason in page_text(response)


def test_a_demoted_administrator_loses_the_rights_at_the_next_request(world):
    client = signed_in_client(world.app, ADMIN_EMAIL, PASSWORD)
    assert client.get("/hospitals/new").status_code == 200
    with world.app.app_context():
        db.session.scalar(select(Account).where(Account.email == ADMIN_EMAIL)).role = "viewer"
        db.session.commit()
    response = client.get("/hospitals/new")
    assert response.status_code == 403
    assert CREATE.reason in page_text(response)
