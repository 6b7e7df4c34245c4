"""Old addresses keep working: every /stats… and /users… page (and a hospital's
/stats/new) answers a permanent redirect to its new address, query string kept, for anyone,
signed in or not; a form sent to an old address is sent again to the new one (308)."""

from __future__ import annotations

import pytest
from helpers import (
    count,
    csrf_token,
    fetch,
    make_hospital,
    make_report,
    make_user,
    page_text,
    report_form,
    yesterday,
)

from hospital_app.models import Account, Report

# Every address that moved, with the ids the world below gives: {h} a hospital, {r} its
# report, {u} an account.
MOVED = [
    ("/stats", "/reports"),
    ("/stats/export.csv", "/reports/export.csv"),
    ("/stats/import", "/reports/import"),
    ("/stats/import/template.csv", "/reports/import/template.csv"),
    ("/stats/{r}/edit", "/reports/{r}/edit"),
    ("/stats/{r}/delete", "/reports/{r}/delete"),
    ("/stats/{r}/history", "/reports/{r}/history"),
    ("/hospitals/{h}/stats/new", "/hospitals/{h}/reports/new"),
    ("/users", "/accounts"),
    ("/users/new", "/accounts/new"),
    ("/users/{u}/edit", "/accounts/{u}/edit"),
    ("/users/{u}/password", "/accounts/{u}/password"),
    ("/users/{u}/history", "/accounts/{u}/history"),
    ("/users/{u}/deactivate", "/accounts/{u}/deactivate"),
    ("/users/{u}/activate", "/accounts/{u}/activate"),
]
POSTED = {"/users/{u}/deactivate", "/users/{u}/activate"}  # POST-only addresses


@pytest.fixture
def ids(app, admin_id) -> dict:
    hospital = make_hospital(app, reports=())
    return {
        "h": hospital,
        "r": make_report(app, hospital),
        "u": make_user(app, "viewer", email="vera@example.org"),
    }


@pytest.mark.parametrize(("old", "new"), MOVED)
def test_every_old_address_moved_permanently_with_its_query_string(anon, ids, old, new):
    old_url, new_url = old.format(**ids), new.format(**ids)
    method = "POST" if old in POSTED else "GET"
    response = anon.open(f"{old_url}?page=2&q=north%20east", method=method)
    # Before any sign-in: the redirect says only where the page went.
    assert response.status_code == (308 if method == "POST" else 301)
    assert response.headers["Location"] == f"{new_url}?page=2&q=north%20east"
    bare = anon.open(old_url, method=method)
    assert bare.headers["Location"] == new_url


def test_the_new_address_answers_what_the_old_one_did(client, ids):
    response = client.get("/users/{u}/edit".format(**ids), follow_redirects=True)
    assert response.status_code == 200
    assert response.request.path == "/accounts/{u}/edit".format(**ids)
    assert "Edit Viewer Person" in page_text(response)


def test_a_form_sent_to_an_old_address_is_saved_at_the_new_one(app, client, ids):
    token = csrf_token(client)
    report = fetch(app, Report, ids["r"])
    data = report_form(token, report_date=report.report_date, admissions=77, version=report.version)
    response = client.post("/stats/{r}/edit".format(**ids), data=data)
    assert response.status_code == 308
    saved = client.post(response.headers["Location"], data=data)
    assert saved.status_code == 303
    assert fetch(app, Report, ids["r"]).admissions == 77


def test_a_deactivation_sent_to_an_old_address_still_needs_its_token(app, client, ids):
    """The redirect itself changes nothing; the new address checks the form's token."""
    response = client.post("/users/{u}/deactivate".format(**ids), follow_redirects=True)
    assert response.status_code == 400
    assert count(app, Account, Account.is_active.is_(False)) == 0


def test_an_old_hospital_report_address_keeps_its_date(client, ids):
    day = yesterday().isoformat()
    response = client.get("/hospitals/{h}/stats/new?date={d}".format(d=day, **ids))
    assert response.status_code == 301
    assert response.headers["Location"] == "/hospitals/{h}/reports/new?date={d}".format(
        d=day, **ids
    )


def test_an_encoded_character_in_an_old_path_stays_encoded(anon):
    """A '?' typed into a path (%3F) is part of the path, not the start of a query."""
    response = anon.get("/stats/abc%3Fx=1/edit")
    assert response.status_code == 301
    assert response.headers["Location"] == "/reports/abc%3Fx%3D1/edit"
