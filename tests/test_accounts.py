"""/accounts: administrators create, change, deactivate and reset the passwords of accounts.

Through the real forms with CSRF on; each test checks the page, the rows and the audit trail.
"""

from __future__ import annotations

import pytest
from helpers import (
    ADMIN_EMAIL,
    PASSWORD,
    confirmation_form,
    count,
    count_queries,
    csrf_token,
    fetch,
    login,
    make_hospital,
    make_user,
    page_text,
    signed_in_client,
)
from sqlalchemy import select, update
from werkzeug.security import check_password_hash

from hospital_app.extensions import db
from hospital_app.models import Account, AuditEntry, Hospital

NEW_PASSWORD = "purple elephant sings loudly"


def new_account_form(csrf: str, **overrides) -> dict:
    values = {
        "email": "nurse@example.org",
        "display_name": "Nina Nurse",
        "role": "viewer",
        "hospital_codes": [],
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
        "csrf_token": csrf,
    }
    values.update(overrides)
    return values


def edit_form(app, user_id: int, csrf: str, **overrides) -> dict:
    """The edit form as the page fills it in, with some values changed."""
    with app.app_context():
        user = db.session.get(Account, user_id)
        codes = [h.code for h in user.hospitals]
        values = {
            "email": user.email,
            "display_name": user.display_name,
            "role": user.role,
            "hospital_codes": codes,
            "csrf_token": csrf,
        }
    values.update(overrides)
    return values


def user_by_email(app, email: str) -> Account | None:
    with app.app_context():
        user = db.session.scalar(select(Account).where(Account.email == email))
        if user is not None:
            codes = [h.code for h in user.hospitals]
            db.session.expunge(user)
            user.codes = codes  # the hospitals, read while the session was open
        return user


def audit_entries(app, user_id: int) -> list[AuditEntry]:
    with app.app_context():
        entries = db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.record_type == "account", AuditEntry.record_id == user_id)
            .order_by(AuditEntry.id)
        ).all()
        for entry in entries:
            db.session.expunge(entry)
        return entries


def all_users(app) -> list[tuple]:
    """Every account as stored, to prove a refused form changed nothing."""
    with app.app_context():
        return [
            (
                u.id,
                u.email,
                u.display_name,
                u.role,
                u.is_active,
                u.password_hash,
                u.session_generation,
                u.version,
                tuple(h.code for h in u.hospitals),
            )
            for u in db.session.scalars(select(Account).order_by(Account.id))
        ]


@pytest.fixture
def hospitals(app) -> dict[str, int]:
    return {
        code: make_hospital(app, code=code, name=f"Hospital {code}")
        for code in ("NRH-001", "SGH-002", "EAST-3")
    }


# --- Who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["editor", "viewer"])
@pytest.mark.parametrize(
    "url", ["/accounts", "/accounts/new", "/accounts/1/edit", "/accounts/1/password"]
)
def test_only_administrators_see_the_accounts_pages(login_as, role, url):
    response = login_as(role).get(url)
    assert response.status_code == 403
    assert "Only administrators can manage accounts." in page_text(response)


def test_signed_out_visitors_are_sent_to_sign_in(anon):
    response = anon.get("/accounts")
    assert response.status_code == 303 and "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    "url", ["/accounts/999/edit", "/accounts/999/password", "/accounts/999/deactivate"]
)
def test_unknown_accounts_are_404(client, url):
    if url.endswith("deactivate"):
        response = client.post(url, data={"csrf_token": csrf_token(client, "/accounts/new")})
    else:
        response = client.get(url)
    assert response.status_code == 404


# --- The list --------------------------------------------------------------------------------


def test_list_shows_each_account_with_role_status_and_hospitals(app, client, hospitals):
    make_user(
        app,
        "editor",
        email="ed@example.org",
        name="Ed Editor",
        hospitals=(hospitals["NRH-001"], hospitals["SGH-002"]),
    )
    make_user(app, "viewer", email="vi@example.org", name="Vi Viewer", active=False)
    response = client.get("/accounts")
    text = page_text(response)
    assert response.status_code == 200
    assert "Ada Admin (you) admin@example.org Administrator — Active" in text
    assert "Ed Editor ed@example.org Editor 2 Active never" in text
    assert "Vi Viewer vi@example.org Viewer — Deactivated never" in text
    assert "New account" in text


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("?role=editor", ["ed@"], ["vi@", "admin@"]),
        ("?status=deactivated", ["vi@"], ["ed@", "admin@"]),
        ("?status=active&role=admin", ["admin@"], ["ed@", "vi@"]),
    ],
)
def test_list_filters(app, client, query, shown, hidden):
    make_user(app, "editor", email="ed@example.org", name="Ed Editor")
    make_user(app, "viewer", email="vi@example.org", name="Vi Viewer", active=False)
    text = page_text(client.get("/accounts" + query))
    assert all(email in text for email in shown)
    assert not any(email in text for email in hidden)


@pytest.mark.parametrize("query", ["?role=owner", "?status=gone", "?page=0", "?page=x"])
def test_bad_filters_get_a_400_page_with_a_message(client, query):
    response = client.get("/accounts" + query)
    assert response.status_code == 400
    assert "These filters cannot be used" in page_text(response)


def test_list_pages(app, client):
    for n in range(7):
        make_user(app, "viewer", email=f"v{n}@example.org", name=f"Viewer {n}")
    text = page_text(client.get("/accounts?page=2"))
    assert "Showing 6–8 of 8 accounts" in text


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("?q=ed", ["ed@example.org"], ["vi@example.org"]),  # part of a name, any case
        ("?q=VI%40EXAMPLE", ["vi@example.org"], ["ed@example.org"]),  # part of an email
        ("?q=%20%20viewer%20", ["vi@example.org"], ["ed@example.org"]),
        ("?q=ed&role=viewer", [], ["ed@example.org", "vi@example.org"]),
        ("?q=%25", [], ["ed@example.org", "vi@example.org"]),  # % is a character, not "any"
    ],
)
def test_list_search_by_name_or_email(app, client, query, shown, hidden):
    make_user(app, "editor", email="ed@example.org", name="Ed Editor")
    make_user(app, "viewer", email="vi@example.org", name="Vi Viewer")
    response = client.get("/accounts" + query)
    assert response.status_code == 200
    text = page_text(response)
    assert all(email in text for email in shown)
    assert not any(email in text for email in hidden)
    if not shown:
        assert "No account matches these filters." in text


def test_list_search_is_kept_by_the_pages(app, client):
    for n in range(7):
        make_user(app, "viewer", email=f"v{n}@example.org", name=f"Nurse {n}")
    make_user(app, "viewer", email="other@example.org", name="Someone Else")
    response = client.get("/accounts?q=nurse")
    assert "Showing 1–5 of 7 accounts" in page_text(response)
    assert 'href="/accounts?q=nurse&amp;page=2"' in response.get_data(as_text=True)
    assert "Showing 6–7 of 7 accounts" in page_text(client.get("/accounts?q=nurse&page=2"))


def test_a_search_too_long_gets_a_400(client):
    response = client.get("/accounts?q=" + "x" * 201)
    assert response.status_code == 400
    assert "Search with at most 200 characters." in page_text(response)


def test_list_takes_the_same_number_of_queries_for_2_and_12_accounts(app, client, hospitals):
    app.config["PER_PAGE"] = 50
    ids = list(hospitals.values())

    def queries() -> int:
        with count_queries(app) as statements:
            assert client.get("/accounts?q=example").status_code == 200
        return len(statements)

    make_user(app, "editor", email="e0@example.org", hospitals=tuple(ids))
    few = queries()
    for n in range(1, 11):
        role = "editor" if n % 2 else "viewer"
        make_user(app, role, email=f"e{n}@example.org", hospitals=tuple(ids[: n % 3]) * (n % 2))
    assert count(app, Account) == 12
    many = queries()
    assert many == few, (few, many)


def test_names_are_escaped(app, client):
    payload = '<script>alert("x")</script>'
    user_id = make_user(app, "viewer", email="x@example.org", name=payload)
    for url in ("/accounts", f"/accounts/{user_id}/edit", f"/accounts/{user_id}/password"):
        body = client.get(url).get_data(as_text=True)
        assert payload not in body
        assert "&lt;script&gt;" in body
    # and in the message after saving it
    csrf = csrf_token(client, f"/accounts/{user_id}/edit")
    form = edit_form(app, user_id, csrf, display_name=payload + " 2")
    assert client.post(f"/accounts/{user_id}/edit", data=form).status_code == 303
    body = client.get("/accounts").get_data(as_text=True)
    assert "was saved" in body and payload not in body


# --- Creating an account ---------------------------------------------------------------------


def test_new_form_starts_empty_with_role_help(client):
    response = client.get("/accounts/new")
    text = page_text(response)
    assert response.status_code == 200
    assert "Viewer: sees everything, changes nothing." in text
    assert "Hospitals (optional)" in text and "Password, again" in text
    assert "No active hospital is registered yet." in text


def test_create_a_viewer(app, client, admin_id):
    csrf = csrf_token(client, "/accounts/new")
    response = client.post(
        "/accounts/new", data=new_account_form(csrf, email="  Nurse@Example.ORG ")
    )
    assert response.status_code == 303 and response.headers["Location"] == "/accounts"
    text = page_text(client.get("/accounts"))
    assert "The viewer account of Nina Nurse (nurse@example.org) was created." in text
    assert NEW_PASSWORD not in text
    user = user_by_email(app, "nurse@example.org")
    assert (user.display_name, user.role, user.is_active) == ("Nina Nurse", "viewer", True)
    assert check_password_hash(user.password_hash, NEW_PASSWORD)
    # the new person can sign in with it
    assert login(app.test_client(), "nurse@example.org", NEW_PASSWORD).status_code == 303

    [entry] = audit_entries(app, user.id)
    assert (entry.action, entry.user_id) == ("create", admin_id)
    assert ADMIN_EMAIL in entry.actor
    assert entry.changes["role"] == [None, "viewer"]
    assert entry.changes["password"] == [None, "(set)"]
    assert user.password_hash not in str(entry.changes)


def test_create_an_editor_with_hospitals(app, client, hospitals, admin_id):
    csrf = csrf_token(client, "/accounts/new")
    form = new_account_form(csrf, role="editor", hospital_codes=["sgh-002", "NRH-001", "SGH-002"])
    assert client.post("/accounts/new", data=form).status_code == 303
    user = user_by_email(app, "nurse@example.org")
    assert user.role == "editor" and user.codes == ["NRH-001", "SGH-002"]
    [entry] = audit_entries(app, user.id)
    assert entry.changes["hospitals"] == [None, ["NRH-001", "SGH-002"]]
    # the editor may now add a report to an assigned hospital, not to another
    editor = signed_in_client(app, "nurse@example.org", NEW_PASSWORD)
    assert editor.get(f"/hospitals/{hospitals['NRH-001']}/reports/new").status_code == 200
    assert editor.get(f"/hospitals/{hospitals['EAST-3']}/reports/new").status_code == 403


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"email": ""}, "Email", "Enter the person's email address."),
        ({"email": "not-an-email"}, "Email", "Enter an email address like name@hospital.org."),
        ({"email": "ADMIN@example.org"}, "Email", "admin@example.org already has an account"),
        ({"display_name": "   "}, "Name", "Enter the person's name."),
        ({"display_name": "x" * 101}, "Name", "Keep the name to 100 characters."),
        ({"role": ""}, "Role", "Choose what the account may do."),
        ({"role": "owner"}, "Role", "is not one of the choices"),
        ({"password": "short", "confirm": "short"}, "Password", "Use at least 12 characters"),
        (
            {"password": "nurse@example.org", "confirm": "nurse@example.org"},
            "Password",
            "The password cannot be the email address.",
        ),
        ({"confirm": "something else entirely"}, "Password, again", "are not the same"),
        (
            {"role": "editor", "hospital_codes": ["NRH-001", "NOPE-1", "nope-2"]},
            "Hospitals",
            "No hospital has these codes: NOPE-1, NOPE-2.",
        ),
        (
            {"role": "viewer", "hospital_codes": ["NRH-001"]},
            "Hospitals",
            "Only editors are assigned to hospitals",
        ),
        (
            {"role": "admin", "hospital_codes": ["NRH-001"]},
            "Hospitals",
            "Only editors are assigned to hospitals",
        ),
    ],
)
def test_new_account_errors_change_nothing(app, client, hospitals, overrides, field, message):
    before, audit_before = all_users(app), count(app, AuditEntry)
    csrf = csrf_token(client, "/accounts/new")
    response = client.post("/accounts/new", data=new_account_form(csrf, **overrides))
    text = page_text(response)
    assert response.status_code == 422
    assert f"{field}: " in text and message in text
    assert all_users(app) == before
    assert count(app, AuditEntry) == audit_before
    # what was typed comes back, except the passwords
    body = response.get_data(as_text=True)
    assert NEW_PASSWORD not in body


def test_a_duplicate_email_created_meanwhile_becomes_a_field_error(app, client, monkeypatch):
    """The other account is committed after this form was validated: the unique constraint
    catches it and the form, validated again, names the field."""
    from hospital_app.accounts import checks

    csrf = csrf_token(client, "/accounts/new")
    real_owner = checks.email_owner
    calls = []

    def late_owner(email, except_id=None):
        calls.append(email)
        if len(calls) == 1:  # the first check passes; then someone else takes the address
            make_user(app, "viewer", email="nurse@example.org", name="Quick Colleague")
            return None
        return real_owner(email, except_id)

    monkeypatch.setattr(checks, "email_owner", late_owner)
    response = client.post("/accounts/new", data=new_account_form(csrf))
    assert response.status_code == 422
    assert "nurse@example.org already has an account (Quick Colleague)" in page_text(response)
    assert len(calls) == 2  # validated again after the unique constraint refused the row
    assert count(app, Account) == 2


# --- Editing ---------------------------------------------------------------------------------


def test_edit_form_is_filled_in(app, client, hospitals):
    user_id = make_user(
        app,
        "editor",
        email="ed@example.org",
        name="Ed Editor",
        hospitals=(hospitals["SGH-002"], hospitals["NRH-001"]),
    )
    response = client.get(f"/accounts/{user_id}/edit")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'value="ed@example.org"' in body and 'value="Ed Editor"' in body
    # Every active hospital is a checkbox, the assigned ones ticked and first.
    text = page_text(response)
    assert text.index("NRH-001 — Hospital NRH-001") < text.index("EAST-3 — Hospital EAST-3")
    assert text.index("SGH-002 — Hospital SGH-002") < text.index("EAST-3 — Hospital EAST-3")
    assert (
        'checked id="hospital_codes-0" name="hospital_codes" type="checkbox" value="NRH-001"'
        in body
    )
    assert 'id="hospital_codes-2" name="hospital_codes" type="checkbox" value="EAST-3"' in body
    assert f'href="/accounts/{user_id}/password"' in body
    assert f'href="/accounts/{user_id}/deactivate"' in body
    assert f'href="/accounts/{user_id}/history"' in body


def test_edit_role_and_hospitals(app, client, hospitals, admin_id):
    user_id = make_user(app, "viewer", email="vi@example.org", name="Vi Viewer")
    csrf = csrf_token(client, f"/accounts/{user_id}/edit")
    form = edit_form(
        app,
        user_id,
        csrf,
        role="editor",
        hospital_codes=["east-3", "NRH-001"],
        display_name="Vi  Editor",
        email="VI.Editor@example.org",
    )
    response = client.post(f"/accounts/{user_id}/edit", data=form)
    assert response.status_code == 303
    assert "The account of Vi Editor (vi.editor@example.org) was saved." in page_text(
        client.get("/accounts")
    )
    user = user_by_email(app, "vi.editor@example.org")
    assert (user.id, user.role, user.display_name) == (user_id, "editor", "Vi Editor")
    assert user.codes == ["EAST-3", "NRH-001"]

    [_, entry] = audit_entries(app, user_id)
    assert (entry.action, entry.user_id) == ("update", admin_id)
    assert entry.changes == {
        "email": ["vi@example.org", "vi.editor@example.org"],
        "display_name": ["Vi Viewer", "Vi Editor"],
        "role": ["viewer", "editor"],
        "hospitals": [[], ["EAST-3", "NRH-001"]],
    }


def test_edit_only_the_hospitals(app, client, hospitals):
    user_id = make_user(app, "editor", email="ed@example.org", hospitals=(hospitals["NRH-001"],))
    csrf = csrf_token(client, f"/accounts/{user_id}/edit")
    form = edit_form(app, user_id, csrf, hospital_codes=["SGH-002"])
    assert client.post(f"/accounts/{user_id}/edit", data=form).status_code == 303
    assert user_by_email(app, "ed@example.org").codes == ["SGH-002"]
    assert audit_entries(app, user_id)[-1].changes == {"hospitals": [["NRH-001"], ["SGH-002"]]}


def test_unticking_every_hospital_leaves_the_editor_with_none(app, client, hospitals):
    user_id = make_user(app, "editor", email="ed@example.org", hospitals=(hospitals["NRH-001"],))
    csrf = csrf_token(client, f"/accounts/{user_id}/edit")
    form = edit_form(app, user_id, csrf)
    del form["hospital_codes"]  # a browser sends no value for a box left unticked
    assert client.post(f"/accounts/{user_id}/edit", data=form).status_code == 303
    assert user_by_email(app, "ed@example.org").codes == []


def test_saving_an_unchanged_form_changes_nothing(app, client, hospitals):
    user_id = make_user(
        app,
        "editor",
        email="ed@example.org",
        hospitals=(hospitals["NRH-001"], hospitals["SGH-002"]),
    )
    before = all_users(app)
    csrf = csrf_token(client, f"/accounts/{user_id}/edit")
    # the same hospitals, sent in another order (and the email in another case)
    form = edit_form(
        app, user_id, csrf, hospital_codes=["SGH-002", "NRH-001"], email="ED@example.org"
    )
    response = client.post(f"/accounts/{user_id}/edit", data=form)
    assert response.status_code == 303
    assert "Nothing was changed." in page_text(client.get("/accounts"))
    assert all_users(app) == before
    assert len(audit_entries(app, user_id)) == 1  # its creation only


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"email": "Other@Example.org"}, "other@example.org already has an account"),
        ({"email": "a@"}, "Enter an email address like name@hospital.org."),
        ({"display_name": ""}, "Enter the person's name."),
        ({"hospital_codes": ["NRH-001", "MISSING"]}, "No hospital has the code MISSING."),
    ],
)
def test_edit_errors_change_nothing(app, client, hospitals, overrides, message):
    make_user(app, "viewer", email="other@example.org")
    user_id = make_user(app, "editor", email="ed@example.org", hospitals=(hospitals["NRH-001"],))
    before = all_users(app)
    audit_before = count(app, AuditEntry)
    csrf = csrf_token(client, f"/accounts/{user_id}/edit")
    response = client.post(
        f"/accounts/{user_id}/edit", data=edit_form(app, user_id, csrf, **overrides)
    )
    assert response.status_code == 422
    assert message in page_text(response)
    assert all_users(app) == before
    assert count(app, AuditEntry) == audit_before


@pytest.mark.parametrize(("role", "label"), [("viewer", "a viewer"), ("admin", "an administrator")])
def test_a_new_role_takes_an_editors_hospitals_away(app, client, hospitals, admin_id, role, label):
    user_id = make_user(
        app,
        "editor",
        email="ed@example.org",
        name="Ed Editor",
        hospitals=(hospitals["NRH-001"], hospitals["SGH-002"]),
    )
    csrf = csrf_token(client, f"/accounts/{user_id}/edit")
    # The boxes are still ticked as the page drew them.
    form = edit_form(app, user_id, csrf, role=role)
    assert form["hospital_codes"] == ["NRH-001", "SGH-002"]
    response = client.post(f"/accounts/{user_id}/edit", data=form)
    assert response.status_code == 303
    assert (
        f"The account of Ed Editor (ed@example.org) was saved. As {label} they have no "
        "hospitals: NRH-001, SGH-002 were unassigned."
    ) in page_text(client.get("/accounts"))
    user = user_by_email(app, "ed@example.org")
    assert (user.role, user.codes) == (role, [])
    entry = audit_entries(app, user_id)[-1]
    assert (entry.action, entry.user_id) == ("update", admin_id)
    assert entry.changes == {
        "role": ["editor", role],
        "hospitals": [["NRH-001", "SGH-002"], []],
    }
    history = page_text(client.get(f"/accounts/{user_id}/history"))
    assert "Assigned hospitals NRH-001, SGH-002 → changed to none" in history


def test_hospitals_ticked_for_a_viewer_are_still_refused(app, client, hospitals):
    user_id = make_user(app, "viewer", email="vi@example.org")
    before = all_users(app)
    csrf = csrf_token(client, f"/accounts/{user_id}/edit")
    form = edit_form(app, user_id, csrf, hospital_codes=["NRH-001"])
    response = client.post(f"/accounts/{user_id}/edit", data=form)
    assert response.status_code == 422
    assert "Only editors are assigned to hospitals" in page_text(response)
    assert all_users(app) == before


@pytest.mark.writes_around_the_app  # archives two hospitals with an UPDATE
def test_an_archived_hospital_stays_ticked_until_unticked(app, client, hospitals):
    archived = make_hospital(app, code="OLD-1", name="Old Hospital")
    make_hospital(app, code="GONE-1", name="Gone Hospital")
    with app.app_context():
        db.session.execute(
            update(Hospital).where(Hospital.code.in_(["OLD-1", "GONE-1"])).values(is_active=False)
        )
        db.session.commit()
    user_id = make_user(app, "editor", email="ed@example.org", hospitals=(archived,))
    text = page_text(client.get(f"/accounts/{user_id}/edit"))
    assert "OLD-1 — Old Hospital" in text  # assigned: kept on the form
    assert "GONE-1" not in text  # archived and not assigned: not offered
    csrf = csrf_token(client, f"/accounts/{user_id}/edit")
    form = edit_form(app, user_id, csrf, display_name="Ed Renamed")
    assert client.post(f"/accounts/{user_id}/edit", data=form).status_code == 303
    assert user_by_email(app, "ed@example.org").codes == ["OLD-1"]


def test_the_hospital_list_has_a_search_box_for_scripts_only(app, client, hospitals):
    body = client.get("/accounts/new").get_data(as_text=True)
    assert (
        '<div class="checkbox-list__filter" data-filter-list="hospital_codes-choices" hidden>'
        in body
    )
    assert '<script src="/static/js/filter-choices.js" defer></script>' in body
    assert "<script>" not in body  # no inline script: the CSP forbids them
    assert client.get("/static/js/filter-choices.js").status_code == 200


def test_an_administrator_cannot_remove_their_own_admin_role(app, client, admin_id):
    before = all_users(app)
    csrf = csrf_token(client, f"/accounts/{admin_id}/edit")
    response = client.post(
        f"/accounts/{admin_id}/edit", data=edit_form(app, admin_id, csrf, role="viewer")
    )
    assert response.status_code == 422
    assert "You cannot remove your own administrator role" in page_text(response)
    assert all_users(app) == before


def test_an_administrator_may_change_another_administrators_role(app, client):
    other = make_user(app, "admin", email="second@example.org")
    csrf = csrf_token(client, f"/accounts/{other}/edit")
    form = edit_form(app, other, csrf, role="viewer")
    assert client.post(f"/accounts/{other}/edit", data=form).status_code == 303
    assert fetch(app, Account, other).role == "viewer"


def test_an_administrator_may_rename_themselves(app, client, admin_id):
    csrf = csrf_token(client, f"/accounts/{admin_id}/edit")
    form = edit_form(app, admin_id, csrf, display_name="Ada Lovelace")
    assert client.post(f"/accounts/{admin_id}/edit", data=form).status_code == 303
    assert fetch(app, Account, admin_id).display_name == "Ada Lovelace"
    assert "Ada Lovelace" in page_text(client.get("/accounts"))  # still signed in


# --- Deactivating and activating -------------------------------------------------------------


def test_deactivation_ends_their_sessions_and_stops_sign_in(app, client, admin_id):
    user_id = make_user(app, "viewer", email="vi@example.org", name="Vi Viewer")
    theirs = signed_in_client(app, "vi@example.org")
    assert theirs.get("/hospitals").status_code == 200

    csrf = csrf_token(client, f"/accounts/{user_id}/edit")
    response = client.post(f"/accounts/{user_id}/deactivate", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/accounts/{user_id}/edit"
    text = page_text(client.get(f"/accounts/{user_id}/edit"))
    assert "The account of Vi Viewer was deactivated" in text
    assert "This account is deactivated" in text

    user = fetch(app, Account, user_id)
    assert user.is_active is False and user.session_generation == 1
    # their open browser is signed out at its next request
    response = theirs.get("/hospitals")
    assert response.status_code == 303 and "/login" in response.headers["Location"]
    # and they cannot sign in again
    response = login(app.test_client(), "vi@example.org")
    assert response.status_code == 403
    assert "This account has been deactivated." in page_text(response)

    [_, entry] = audit_entries(app, user_id)
    assert (entry.action, entry.user_id) == ("deactivate", admin_id)
    assert entry.changes == {"is_active": [True, False]}


def test_activation_lets_them_sign_in_again(app, client, admin_id):
    user_id = make_user(app, "viewer", email="vi@example.org", name="Vi Viewer", active=False)
    csrf = csrf_token(client, f"/accounts/{user_id}/edit")
    response = client.post(f"/accounts/{user_id}/activate", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert "Vi Viewer can sign in again" in page_text(client.get(f"/accounts/{user_id}/edit"))
    assert fetch(app, Account, user_id).is_active is True
    assert login(app.test_client(), "vi@example.org").status_code == 303
    [_, entry] = audit_entries(app, user_id)
    assert (entry.action, entry.user_id, entry.changes) == (
        "activate",
        admin_id,
        {"is_active": [False, True]},
    )


@pytest.mark.parametrize(("action", "active"), [("deactivate", False), ("activate", True)])
def test_already_in_that_state_is_only_a_message(app, client, action, active):
    user_id = make_user(app, "viewer", email="vi@example.org", active=active)
    before = all_users(app)
    csrf = csrf_token(client, f"/accounts/{user_id}/edit")
    response = client.post(f"/accounts/{user_id}/{action}", data={"csrf_token": csrf})
    assert response.status_code == 303
    state = "deactivated" if not active else "active"
    assert f"is already {state}" in page_text(client.get(f"/accounts/{user_id}/edit"))
    assert all_users(app) == before


def test_an_administrator_cannot_deactivate_themselves(app, client, admin_id):
    before, audit_before = all_users(app), count(app, AuditEntry)
    csrf = csrf_token(client, f"/accounts/{admin_id}/edit")
    response = client.post(f"/accounts/{admin_id}/deactivate", data={"csrf_token": csrf})
    assert response.status_code == 303
    text = page_text(client.get(f"/accounts/{admin_id}/edit"))
    assert "You cannot deactivate your own account" in text
    assert all_users(app) == before
    assert count(app, AuditEntry) == audit_before


def test_deactivation_needs_the_csrf_token(app, client):
    user_id = make_user(app, "viewer", email="vi@example.org")
    response = client.post(f"/accounts/{user_id}/deactivate")
    assert response.status_code == 400
    assert fetch(app, Account, user_id).is_active is True


def test_deactivation_asks_for_confirmation_first(app, client):
    user_id = make_user(app, "viewer", email="vi@example.org", name="Vi Viewer")
    edit_page = client.get(f"/accounts/{user_id}/edit").get_data(as_text=True)
    assert f'href="/accounts/{user_id}/deactivate"' in edit_page
    assert f'action="/accounts/{user_id}/deactivate"' not in edit_page  # no one-click button
    response = client.get(f"/accounts/{user_id}/deactivate")
    text = page_text(response)
    assert response.status_code == 200
    assert "Deactivate the account of Vi Viewer?" in text
    assert "is signed out at once" in text and "Keep it active" in text
    assert fetch(app, Account, user_id).is_active is True  # asking changed nothing

    form = confirmation_form(client, f"/accounts/{user_id}/deactivate")
    response = client.post(f"/accounts/{user_id}/deactivate", data=form)
    assert response.status_code == 303
    assert fetch(app, Account, user_id).is_active is False
    response = client.get(f"/accounts/{user_id}/deactivate", follow_redirects=True)
    assert "The account of Vi Viewer is already deactivated." in page_text(response)


def test_deactivation_confirmed_after_someone_elses_edit_changes_nothing(app, client):
    user_id = make_user(app, "viewer", email="vi@example.org", name="Vi Viewer")
    form = confirmation_form(client, f"/accounts/{user_id}/deactivate")
    csrf = form["csrf_token"]
    rename = edit_form(app, user_id, csrf, display_name="Vi Renamed")
    assert client.post(f"/accounts/{user_id}/edit", data=rename).status_code == 303
    response = client.post(f"/accounts/{user_id}/deactivate", data=form)
    assert response.status_code == 303
    assert "after you opened it, so nothing was saved" in page_text(
        client.get(f"/accounts/{user_id}/edit")
    )
    assert fetch(app, Account, user_id).is_active is True


def test_ones_own_deactivation_page_says_why_not(app, client, admin_id):
    response = client.get(f"/accounts/{admin_id}/deactivate", follow_redirects=True)
    assert "You cannot deactivate your own account" in page_text(response)
    assert fetch(app, Account, admin_id).is_active is True


# --- Setting a new password ------------------------------------------------------------------


def test_reset_password_ends_their_sessions_and_the_new_one_works(app, client, admin_id):
    user_id = make_user(app, "editor", email="ed@example.org", name="Ed Editor")
    theirs = signed_in_client(app, "ed@example.org")
    old_hash = fetch(app, Account, user_id).password_hash

    csrf = csrf_token(client, f"/accounts/{user_id}/password")
    response = client.post(
        f"/accounts/{user_id}/password",
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/accounts/{user_id}/edit"
    page = client.get(f"/accounts/{user_id}/edit")
    text = page_text(page)
    assert "Ed Editor has a new password. Their sessions were ended" in text
    assert NEW_PASSWORD not in page.get_data(as_text=True)

    user = fetch(app, Account, user_id)
    assert user.session_generation == 1 and user.password_hash != old_hash
    response = theirs.get("/hospitals")
    assert response.status_code == 303 and "/login" in response.headers["Location"]
    assert login(app.test_client(), "ed@example.org", PASSWORD).status_code == 422  # refused
    assert login(app.test_client(), "ed@example.org", NEW_PASSWORD).status_code == 303

    [_, entry] = audit_entries(app, user_id)
    assert (entry.action, entry.user_id) == ("password", admin_id)
    assert entry.changes == {"password": [None, "(changed)"]}
    assert user.password_hash not in str(entry.changes) and old_hash not in str(entry.changes)


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("short", "short", "Use at least 12 characters; this password has 5."),
        (NEW_PASSWORD, "something different", "The two passwords are not the same"),
        ("ed@example.org", "ed@example.org", "The password cannot be the email address."),
        ("", "", "Enter the new password."),
    ],
)
def test_reset_password_errors_change_nothing(app, client, password, confirm, message):
    user_id = make_user(app, "editor", email="ed@example.org")
    before = all_users(app)
    csrf = csrf_token(client, f"/accounts/{user_id}/password")
    response = client.post(
        f"/accounts/{user_id}/password",
        data={"password": password, "confirm": confirm, "csrf_token": csrf},
    )
    assert response.status_code == 422
    assert message in page_text(response)
    assert all_users(app) == before
    body = response.get_data(as_text=True)
    assert NEW_PASSWORD not in body


def test_own_password_is_changed_on_the_password_page(app, client, admin_id):
    response = client.get(f"/accounts/{admin_id}/password")
    assert response.status_code == 303
    assert response.headers["Location"] == "/account/password"


def test_no_page_shows_a_password_hash(app, client, admin_id, hospitals):
    user_id = make_user(app, "editor", email="ed@example.org", hospitals=(hospitals["NRH-001"],))
    hashes = [fetch(app, Account, i).password_hash for i in (admin_id, user_id)]
    for url in (
        "/accounts",
        "/accounts/new",
        f"/accounts/{user_id}/edit",
        f"/accounts/{user_id}/password",
        f"/accounts/{user_id}/history",
    ):
        body = client.get(url).get_data(as_text=True)
        assert not any(h in body for h in hashes), url
        assert "pbkdf2:" not in body and "scrypt:" not in body, url
