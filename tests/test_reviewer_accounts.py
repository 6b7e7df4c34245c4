"""Reviewers' accounts (issue 13, point 1): the accounts pages and `flask create-user` give a
reviewer regions (some of those in use, or all), the list shows them, and only reviewers
have regions."""

from __future__ import annotations

import pytest
from helpers import csrf_token, make_hospital, make_user, page_text
from sqlalchemy import select

from hospital_app.extensions import db
from hospital_app.models import Account, AuditEntry

PASSWORD = "a long enough password 7"


@pytest.fixture
def regions(app):
    make_hospital(app, code="N-1", name="North One", region="North")
    make_hospital(app, code="S-1", name="South One", region="South")
    make_hospital(app, code="E-1", name="East One", region="East")


def new_form(csrf: str, **overrides) -> dict:
    values = {
        "email": "rita@example.org",
        "display_name": "Rita Reviewer",
        "role": "reviewer",
        "password": PASSWORD,
        "confirm": PASSWORD,
        "csrf_token": csrf,
    }
    values.update(overrides)
    return values


def stored(app, email="rita@example.org") -> tuple | None:
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.email == email))
        if account is None:
            return None
        return account.role, account.all_regions, account.regions


def test_a_reviewer_is_created_with_regions_and_the_list_shows_them(app, client, regions):
    page = client.get("/accounts/new")
    assert "Reviewer: sees everything, checks and signs off" in page_text(page)
    for region in ("East", "North", "South"):
        assert f'value="{region}"' in page.get_data(as_text=True)
    data = new_form(csrf_token(client, "/accounts/new"), region_names=["North", "South"])
    response = client.post("/accounts/new", data=data)
    assert response.status_code == 303
    assert stored(app) == ("reviewer", False, ["North", "South"])
    listing = page_text(client.get("/accounts"))
    assert "Rita Reviewer rita@example.org Reviewer of North, South" in listing
    with app.app_context():
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.record_label == "rita@example.org")
        )
    assert entry.changes["regions"] == [None, ["North", "South"]]


def test_a_reviewer_of_all_regions(app, client, regions):
    data = new_form(csrf_token(client, "/accounts/new"), all_regions="y")
    assert client.post("/accounts/new", data=data).status_code == 303
    assert stored(app) == ("reviewer", True, [])
    assert "Reviewer of All regions" in page_text(client.get("/accounts"))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({}, "Choose the regions this reviewer checks, or all regions."),
        ({"role": "viewer", "region_names": ["North"]}, "Only reviewers are given regions"),
        ({"role": "editor", "all_regions": "y"}, "Only reviewers are given regions"),
        ({"region_names": ["Atlantis"]}, "No hospital is in the region Atlantis."),
    ],
)
def test_regions_are_checked_and_nothing_is_created(app, client, regions, overrides, message):
    data = new_form(csrf_token(client, "/accounts/new"), **overrides)
    response = client.post("/accounts/new", data=data)
    assert response.status_code == 422
    assert message in page_text(response)
    assert stored(app) is None


def test_editing_a_reviewers_regions_and_taking_the_role_away(app, client, regions):
    rita = make_user(app, "reviewer", email="rita@example.org", regions=("North",))
    page = client.get(f"/accounts/{rita}/edit")
    assert "Reviewer of North" in page_text(page)
    token = csrf_token(client, f"/accounts/{rita}/edit")
    with app.app_context():
        version = db.session.get(Account, rita).version
    base = {
        "email": "rita@example.org",
        "display_name": "Reviewer Person",
        "csrf_token": token,
        "version": str(version),
    }
    response = client.post(
        f"/accounts/{rita}/edit", data={**base, "role": "reviewer", "region_names": ["East"]}
    )
    assert response.status_code == 303
    assert stored(app) == ("reviewer", False, ["East"])
    with app.app_context():
        version = db.session.get(Account, rita).version
    response = client.post(
        f"/accounts/{rita}/edit",
        data={**base, "version": str(version), "role": "viewer", "region_names": ["East"]},
    )
    assert response.status_code == 303
    assert stored(app) == ("viewer", False, [])


def test_create_user_gives_a_reviewer_regions(app, runner, regions):
    args = ["create-user", "rita@example.org", "--role", "reviewer", "--password-stdin"]
    result = runner.invoke(args=[*args, "--region", "north", "--region", "South"], input=PASSWORD)
    assert result.exit_code == 0, result.output
    assert stored(app) == ("reviewer", False, ["North", "South"])
    result = runner.invoke(
        args=[
            "create-user",
            "all@example.org",
            "--role",
            "reviewer",
            "--all-regions",
            "--password-stdin",
        ],
        input=PASSWORD,
    )
    assert result.exit_code == 0, result.output
    assert stored(app, "all@example.org") == ("reviewer", True, [])


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "--region: Choose the regions this reviewer checks, or all regions."),
        (["--region", "Atlantis"], "--region: No hospital is in the region Atlantis."),
    ],
)
def test_create_user_refuses_a_reviewer_without_usable_regions(
    app, runner, regions, extra, message
):
    args = ["create-user", "rita@example.org", "--role", "reviewer", "--password-stdin", *extra]
    result = runner.invoke(args=args, input=PASSWORD)
    assert result.exit_code != 0
    assert message in result.output
    assert stored(app) is None


def test_create_user_gives_regions_only_to_reviewers(app, runner, regions):
    args = ["create-user", "vi@example.org", "--role", "viewer", "--password-stdin"]
    result = runner.invoke(args=[*args, "--region", "North"], input=PASSWORD)
    assert result.exit_code != 0
    assert "Only reviewers are given regions" in result.output
    assert stored(app, "vi@example.org") is None
