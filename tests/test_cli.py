"""The command-line tasks: seed-demo (deterministic, realistic demo data that obeys every
rule), create-user and create-dev-admin."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from helpers import (
    PASSWORD,
    login,
    make_hospital,
    make_user,
    page_text,
    signed_in_client,
    today,
)
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from hospital_app import cycle, rules
from hospital_app.extensions import db
from hospital_app.models import Account, AuditEntry, Hospital, Report


def snapshot(app) -> list[tuple]:
    """Everything but ids and timestamps, in a stable order."""
    with app.app_context():
        hospitals = db.session.execute(
            select(
                Hospital.code, Hospital.name, Hospital.region, Hospital.city, Hospital.ownership
            ).order_by(Hospital.code)
        ).all()
        reports = db.session.execute(
            select(
                Hospital.code,
                Report.report_date,
                *(getattr(Report, f) for f in rules.COUNT_FIELDS),
            )
            .join(Hospital)
            .order_by(Hospital.code, Report.report_date)
        ).all()
    return [tuple(r) for r in hospitals + reports]


def test_seed_demo_writes_the_asked_amount_ending_today(app, runner):
    args = ["seed-demo", "--hospitals", "7", "--days", "12", "--missing-today", "0"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "Wrote 7 hospitals and 84 reports." in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Hospital)) == 7
        first, last = db.session.execute(
            select(func.min(Report.report_date), func.max(Report.report_date))
        ).one()
        per_hospital = (
            db.session.execute(
                select(func.count()).select_from(Report).group_by(Report.hospital_id)
            )
            .scalars()
            .all()
        )
    assert last == today() and first == today() - timedelta(days=11)
    assert per_hospital == [12] * 7


def test_seed_demo_leaves_a_fifth_of_the_hospitals_without_todays_report(app, runner):
    # What `make demo` runs: a new user finds work to do on the dashboard.
    result = runner.invoke(args=["seed-demo", "--hospitals", "50", "--days", "3"])
    assert result.exit_code == 0, result.output
    assert "Wrote 50 hospitals and 140 reports." in result.output
    with app.app_context():
        per_day = dict(
            db.session.execute(
                select(Report.report_date, func.count()).group_by(Report.report_date)
            ).all()
        )
    assert per_day == {today(): 40, today() - timedelta(1): 50, today() - timedelta(2): 50}
    make_user(app, "admin", email="ada@example.org")
    dashboard = signed_in_client(app, "ada@example.org").get("/")
    assert "40 of 50 active hospitals reported" in page_text(dashboard)


def test_seed_demo_names_itself_in_the_audit_trail_for_the_hospitals_only(app, runner):
    runner.invoke(args=["seed-demo", "--hospitals", "3", "--days", "4"])
    with app.app_context():
        entries = db.session.execute(select(AuditEntry.record_type, AuditEntry.action)).all()
        actors = set(db.session.scalars(select(AuditEntry.actor)))
    assert sorted(entries) == [("hospital", "create")] * 3  # none for the bulk-inserted reports
    assert actors == {"command line (seed-demo)"}


def test_seed_demo_obeys_every_rule(app, runner):
    assert runner.invoke(args=["seed-demo", "--hospitals", "20", "--days", "30"]).exit_code == 0
    with app.app_context():
        reports = db.session.scalars(select(Report)).all()
        hospitals = db.session.scalars(select(Hospital)).all()
        assert [
            r
            for r in reports
            if rules.report_errors({f: getattr(r, f) for f in rules.COUNT_FIELDS})
        ] == []
        assert all(not rules.code_errors(h.code) for h in hospitals)
        assert {h.ownership for h in hospitals} <= set(rules.OWNERSHIP)
        # realistic: most beds are in use, and not every figure is the same
        occupancy = [r.beds_occupied / r.beds_total for r in reports]
        assert 0.4 < sum(occupancy) / len(occupancy) < 0.98
        assert len({r.admissions for r in reports}) > 20


def test_seed_demo_is_deterministic(app, runner):
    from helpers import empty_tables

    runner.invoke(args=["seed-demo", "--hospitals", "5", "--days", "10", "--seed", "3"])
    first = snapshot(app)
    empty_tables(app)
    runner.invoke(args=["seed-demo", "--hospitals", "5", "--days", "10", "--seed", "3"])
    # 5 hospitals, 10 days, one of them (a fifth) without today's report
    assert snapshot(app) == first and len(first) == 5 + 49
    empty_tables(app)
    runner.invoke(args=["seed-demo", "--hospitals", "5", "--days", "10", "--seed", "4"])
    assert snapshot(app) != first


def test_seed_demo_refuses_to_run_twice(app, runner):
    runner.invoke(args=["seed-demo", "--hospitals", "2", "--days", "2"])
    result = runner.invoke(args=["seed-demo", "--hospitals", "2", "--days", "2"])
    assert result.exit_code == 1
    assert "already holds 2 demo hospitals" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Report)) == 4


def test_seed_demo_rejects_nonsense_arguments(runner):
    result = runner.invoke(args=["seed-demo", "--hospitals", "0"])
    assert result.exit_code == 2 and "--hospitals" in result.output


# --- create-user and create-dev-admin --------------------------------------------------------


def accounts(app) -> list[tuple]:
    with app.app_context():
        return [
            (u.email, u.display_name, u.role, u.is_active, tuple(h.code for h in u.hospitals))
            for u in db.session.scalars(select(Account).order_by(Account.id))
        ]


def stored_user(app, email: str) -> Account:
    with app.app_context():
        user = db.session.scalar(select(Account).where(Account.email == email))
        db.session.expunge(user)
        return user


def test_create_user_reads_the_password_from_stdin(app, runner):
    result = runner.invoke(
        args=["create-user", "Ann@Example.org", "--role", "admin", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Created admin account ann@example.org."
    assert accounts(app) == [("ann@example.org", "ann", "admin", True, ())]
    user = stored_user(app, "ann@example.org")
    assert check_password_hash(user.password_hash, PASSWORD)
    assert not check_password_hash(user.password_hash, PASSWORD + "\n")
    # the trail names the command as the actor, and never holds the hash
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.record_id == user.id))
        assert (entry.action, entry.actor, entry.user_id) == (
            "create",
            "command line (create-user)",
            None,
        )
        assert entry.changes["password"] == [None, "(set)"]
        assert user.password_hash not in str(entry.changes)
    # and the account can sign in
    assert login(app.test_client(), "ann@example.org").status_code == 303


def test_create_user_keeps_spaces_of_the_password(app, runner):
    password = "  spaces at both ends  "
    result = runner.invoke(
        args=["create-user", "ann@example.org", "--role", "viewer", "--password-stdin"],
        input=password + "\r\n",
    )
    assert result.exit_code == 0, result.output
    assert check_password_hash(stored_user(app, "ann@example.org").password_hash, password)


def test_create_user_prompts_twice_without_echo(app, runner):
    result = runner.invoke(
        args=["create-user", "ann@example.org", "--role", "viewer", "--name", " Ann  Smith "],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert "Repeat for confirmation" in result.output
    assert accounts(app) == [("ann@example.org", "Ann Smith", "viewer", True, ())]


def test_create_user_prompt_mismatch_asks_again(app, runner):
    result = runner.invoke(
        args=["create-user", "ann@example.org", "--role", "viewer"],
        input=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert len(accounts(app)) == 1


def test_create_user_assigns_hospitals_to_an_editor(app, runner):
    make_hospital(app, code="NRH-001")
    make_hospital(app, code="SGH-002", name="Southgate")
    result = runner.invoke(
        args=[
            "create-user",
            "ed@example.org",
            "--role",
            "editor",
            "--hospital",
            "sgh-002",
            "--hospital",
            "NRH-001",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert accounts(app) == [("ed@example.org", "ed", "editor", True, ("NRH-001", "SGH-002"))]


@pytest.mark.parametrize(
    ("args", "stdin", "exit_code", "message"),
    [
        (["--role", "owner"], PASSWORD, 2, "'owner' is not one of 'admin', 'editor', 'viewer'"),
        ([], PASSWORD, 2, "Missing option '--role'"),
        (
            ["--role", "editor", "--hospital", "NOPE-1"],
            PASSWORD,
            1,
            "No hospital has the code NOPE-1.",
        ),
        (
            ["--role", "viewer", "--hospital", "NRH-001"],
            PASSWORD,
            1,
            "Only editors are assigned to hospitals",
        ),
        (["--role", "viewer"], "short", 1, "Use at least 12 characters; this password has 5."),
        (["--role", "viewer"], "", 1, "No password was given"),
        (["--role", "viewer"], "new@example.org", 1, "The password cannot be the email address."),
        (["--role", "viewer", "--name", "  "], PASSWORD, 1, "--name: Enter the person's name."),
        (["--role", "viewer", "--name", "x" * 101], PASSWORD, 1, "--name: Keep the name to 100"),
    ],
)
def test_create_user_errors_write_nothing(app, runner, args, stdin, exit_code, message):
    make_hospital(app, code="NRH-001")
    result = runner.invoke(
        args=["create-user", "new@example.org", *args, "--password-stdin"], input=stdin + "\n"
    )
    assert result.exit_code == exit_code, result.output
    assert message in result.output
    if stdin and exit_code == 1:
        assert stdin not in result.output  # a refused password is not printed either
    assert accounts(app) == []


@pytest.mark.parametrize("email", ["not-an-email", "two@@example.org", ""])
def test_create_user_rejects_a_bad_email(app, runner, email):
    result = runner.invoke(
        args=["create-user", email, "--role", "viewer", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert result.exit_code == 1
    assert "Enter an email address like name@hospital.org." in result.output
    assert accounts(app) == []


def test_create_user_rejects_an_existing_email_in_any_case(app, runner):
    make_user(app, "viewer", email="ann@example.org", name="Ann First")
    result = runner.invoke(
        args=["create-user", "ANN@example.ORG", "--role", "admin", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 1
    assert "ann@example.org already has an account (Ann First)" in result.output
    assert accounts(app) == [("ann@example.org", "Ann First", "viewer", True, ())]


def test_create_dev_admin_creates_one_account_once(app, runner):
    result = runner.invoke(args=["create-dev-admin"])
    assert result.exit_code == 0, result.output
    match = re.search(r"Password: (\S+)", result.output)
    assert match, result.output
    password = match.group(1)
    assert len(password) >= 12 and not rules.password_errors(password, "admin@example.org")
    assert "http://127.0.0.1:8000/login" in result.output
    assert "Email:    admin@example.org" in result.output
    assert "change it after signing in" in result.output
    assert accounts(app) == [("admin@example.org", "Administrator", "admin", True, ())]
    assert login(app.test_client(), "admin@example.org", password).status_code == 303
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry))
        assert entry.actor == "command line (create-dev-admin)"

    again = runner.invoke(args=["create-dev-admin"])
    assert again.exit_code == 0, again.output
    assert password not in again.output and "Password" not in again.output
    assert len(accounts(app)) == 1


def test_create_dev_admin_does_nothing_when_any_account_exists(app, runner):
    make_user(app, "viewer", email="vi@example.org")
    result = runner.invoke(args=["create-dev-admin"])
    assert result.exit_code == 0
    assert "Password" not in result.output
    assert [a[0] for a in accounts(app)] == ["vi@example.org"]


def test_create_dev_admin_refuses_in_production(migrated_url):
    from helpers import fresh_app

    with fresh_app(migrated_url, APP_ENV="production") as app:
        assert app.config["APP_ENV"] == "production"
        result = app.test_cli_runner().invoke(args=["create-dev-admin"])
        assert result.exit_code == 1
        assert "create-dev-admin is for development only" in result.output
        assert accounts(app) == []


def test_demo_reports_are_mostly_on_time_and_say_when_they_were_saved(app, runner):
    """seed-demo writes its reports in bulk, past the insert hook: it sets when each was first
    saved and whether that was by the deadline itself, by the same rule (cycle.py)."""
    result = runner.invoke(args=["seed-demo", "--hospitals", "20", "--days", "30"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        rows = db.session.execute(
            select(Report.report_date, Report.created_at, Report.on_time)
        ).all()
        for day, created_at, on_time in rows:
            assert on_time == cycle.is_on_time(day, created_at, cycle.settings())
    late = sum(not on_time for _day, _at, on_time in rows)
    assert 0 < late < len(rows) / 4
