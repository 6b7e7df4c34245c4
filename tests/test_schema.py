"""The schema: built by the migrations alone, equal to the models, and holding every rule
itself, so that no path (a script, a console, a future bug) can store a broken row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from helpers import count, make_hospital, report_values, today
from sqlalchemy import insert, inspect, select, text, update
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from hospital_app import rules
from hospital_app.extensions import db
from hospital_app.models import Account, Hospital, Report, utcnow

# PyMySQL reports MariaDB's CHECK failures as OperationalError (errno 4025), the others as
# IntegrityError; a value longer than its column is a DataError on the servers. All three mean
# "the database refused the row".
REFUSED = (IntegrityError, OperationalError, DataError)


def test_the_migrated_schema_matches_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_migrations_go_down_to_nothing_and_up_again(app):
    with app.app_context():
        downgrade(revision="base")
        tables = set(inspect(db.engine).get_table_names())
        assert not tables & {"hospitals", "hospital_stats"}
        upgrade()
        assert {"hospitals", "hospital_stats"} <= set(inspect(db.engine).get_table_names())
    # the rebuilt schema still holds the rules: the trigger came back too
    with pytest.raises(REFUSED):
        insert_report(app, report_date=today() + timedelta(days=5))


def test_the_app_never_creates_tables_itself(tmp_path):
    from helpers import make_app

    app = make_app(f"sqlite:///{tmp_path}/fresh.db")
    app.test_client().get("/healthz")
    with app.app_context():
        assert inspect(db.engine).get_table_names() == []


def insert_row(app, model, row: dict) -> None:
    """Straight to the database, past every form and the ORM, with the timestamps and version
    the ORM would have added."""
    now = utcnow()
    row = {"created_at": now, "updated_at": now, "version": 1, **row}
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(insert(model.__table__).values(**row))


def insert_report(app, hospital_id: int | None = None, **values) -> None:
    if hospital_id is None:
        hospital_id = make_hospital(app, code=f"RAW-{utcnow().microsecond}", reports=())
    insert_row(app, Report, {**report_values(**values), "hospital_id": hospital_id})


def insert_hospital(app, **values) -> None:
    row = {"code": "RAW-1", "name": "Raw", "region": "North", "ownership": "public"}
    insert_row(app, Hospital, {**row, "is_active": True, **values})


def breaking(rule: rules.AtMost) -> dict:
    """Report values that break `rule` and no other rule."""
    values = report_values(
        beds_total=100,
        beds_occupied=50,
        icu_beds_total=10,
        icu_beds_occupied=5,
        ventilators_total=8,
        ventilators_in_use=4,
    )
    values[rule.part] = values[rule.whole] + 1
    if rule.part == "icu_beds_total":
        values["icu_beds_occupied"] = 0
    if rule.part == "icu_beds_occupied" and rule.whole == "beds_occupied":
        values.update(beds_occupied=5, icu_beds_occupied=6)
    assert list(rules.report_errors(values)) == [rule.part], "test data breaks another rule"
    return values


@pytest.mark.parametrize("rule", rules.CAPACITY_RULES, ids=lambda r: f"{r.part}<={r.whole}")
def test_the_database_refuses_each_capacity_rule(app, rule):
    with pytest.raises(REFUSED):
        insert_report(app, **breaking(rule))


@pytest.mark.parametrize("field", rules.COUNT_FIELDS)
@pytest.mark.parametrize("value", [-1, rules.MAX_COUNT + 1])
def test_the_database_refuses_counts_out_of_range(app, field, value):
    values = report_values(**{field: value})
    # keep the capacity rules satisfied, so only the range is at fault
    if value > rules.MAX_COUNT:
        for rule in rules.CAPACITY_RULES:
            if rule.part == field:
                values[rule.whole] = value
    else:
        for rule in rules.CAPACITY_RULES:
            if rule.whole == field:
                values[rule.part] = -1
    with pytest.raises(REFUSED):
        insert_report(app, **values)


@pytest.mark.writes_around_the_app  # stores reports with INSERTs of its own
def test_the_database_accepts_a_valid_report_at_the_limits(app):
    at_the_limits = report_values(beds_total=rules.MAX_COUNT, discharges=rules.MAX_COUNT)
    all_zero = report_values(**dict.fromkeys(rules.COUNT_FIELDS, 0))
    insert_report(app, **at_the_limits)
    insert_report(app, **all_zero)
    # Accepted means stored: both rows are there, with the figures as given.
    with app.app_context():
        stored = db.session.scalars(select(Report).order_by(Report.id)).all()
        figures = [{f: getattr(report, f) for f in rules.COUNT_FIELDS} for report in stored]
    assert figures == [
        {f: values[f] for f in rules.COUNT_FIELDS} for values in (at_the_limits, all_zero)
    ]


def test_the_database_refuses_a_second_report_for_a_date(app):
    hospital_id = make_hospital(app)
    with pytest.raises(IntegrityError):
        insert_report(app, hospital_id)


def test_the_database_refuses_a_report_for_no_hospital(app):
    with pytest.raises(IntegrityError):
        insert_report(app, hospital_id=987654)


@pytest.mark.writes_around_the_app  # stores a report with an INSERT of its own
def test_the_database_refuses_a_report_dated_in_the_future(app):
    hospital_id = make_hospital(app, reports=())
    with pytest.raises(REFUSED):
        insert_report(app, hospital_id, report_date=today() + timedelta(days=3))
    insert_report(app, hospital_id, report_date=today())  # today is fine
    with app.app_context(), pytest.raises(REFUSED), db.engine.begin() as conn:
        conn.execute(update(Report.__table__).values(report_date=today() + timedelta(days=30)))


@pytest.mark.parametrize(
    "code", ["A", "A" * 21, "ab-1", "AB 1", "AB_1", "ÄB-1", "AB-1\n", ""], ids=repr
)
def test_the_database_refuses_malformed_codes(app, code):
    with pytest.raises(REFUSED):
        insert_hospital(app, code=code)


def test_the_database_accepts_well_formed_codes(app):
    insert_hospital(app, code="AB")
    insert_hospital(app, code="Z9-" + "0" * 17)
    with app.app_context():
        assert sorted(db.session.scalars(select(Hospital.code))) == ["AB", "Z9-" + "0" * 17]


def test_the_database_refuses_a_duplicate_code(app):
    insert_hospital(app, code="DUP-1")
    with pytest.raises(IntegrityError):
        insert_hospital(app, code="DUP-1")


@pytest.mark.parametrize(
    "values",
    [{"ownership": "state"}, {"name": ""}, {"region": ""}],
    ids=["ownership", "blank name", "blank region"],
)
def test_the_database_refuses_other_bad_hospitals(app, values):
    with pytest.raises(REFUSED):
        insert_hospital(app, **values)


def test_sqlite_runs_with_foreign_keys_wal_and_a_busy_timeout(app, backend):
    if backend != "sqlite":
        pytest.skip("SQLite's connection settings")
    with app.app_context():
        pragma = {
            name: db.session.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("foreign_keys", "journal_mode", "busy_timeout")
        }
    assert pragma == {"foreign_keys": 1, "journal_mode": "wal", "busy_timeout": 30000}


def test_server_databases_use_pool_pre_ping(app, backend):
    with app.app_context():
        assert db.engine.pool._pre_ping is (backend != "sqlite")


# --- Accounts --------------------------------------------------------------------------------


def insert_user(app, **values) -> None:
    row = {
        "email": "someone@example.org",
        "display_name": "Someone",
        "password_hash": "scrypt:32768:8:1$salt$hash",
        "role": "viewer",
    }
    insert_row(app, Account, {**row, **values})


@pytest.mark.parametrize("values", [{"role": "superuser"}, {"display_name": ""}])
def test_the_database_refuses_bad_accounts(app, values):
    with pytest.raises(REFUSED):
        insert_user(app, **values)


def test_the_database_refuses_a_second_account_for_an_email(app):
    insert_user(app)
    with pytest.raises(REFUSED):
        insert_user(app, display_name="Again")
    assert count(app, Account) == 1


def test_new_tables_go_down_and_up_with_the_migrations(app):
    with app.app_context():
        downgrade(revision="0001")
        tables = set(inspect(db.engine).get_table_names())
        assert not tables & {"users", "hospital_editors", "login_attempts", "audit_log"}
        assert {"hospitals", "hospital_stats"} <= tables
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        # 0007 replaced login_attempts by sign_in_counters.
        assert {"users", "hospital_editors", "sign_in_counters", "audit_log"} <= tables
        assert "login_attempts" not in tables


def test_0007_goes_down_to_login_attempts_and_up_to_counters(app):
    with app.app_context():
        downgrade(revision="0006")
        tables = set(inspect(db.engine).get_table_names())
        assert "login_attempts" in tables and "sign_in_counters" not in tables
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert "sign_in_counters" in tables and "login_attempts" not in tables


@pytest.mark.writes_around_the_app  # stores a report with an INSERT of its own
def test_0003_goes_down_and_up_keeping_the_report_rules(app):
    """0003 changes hospital_stats in place: on SQLite a copied table would silently lose
    the future-date triggers, so both directions are checked against them."""
    hospital_id = make_hospital(app, reports=())
    with app.app_context():
        downgrade(revision="0002")
        columns = {c["name"] for c in inspect(db.engine).get_columns("hospital_stats")}
        assert not columns & {"outlier_confirmed", "outlier_note"}
        indexes = {i["name"] for i in inspect(db.engine).get_indexes("hospital_stats")}
        assert "ix_hospital_stats_report_date" not in indexes
    # The model has columns 0002 lacks: name only the old ones.
    old_columns = ["hospital_id", "report_date", *rules.COUNT_FIELDS, "created_at"]
    old_columns += ["updated_at", "version"]
    row = {
        **report_values(report_date=today() + timedelta(days=5)),
        "hospital_id": hospital_id,
        "created_at": utcnow(),
        "updated_at": utcnow(),
        "version": 1,
    }
    statement = text(
        f"INSERT INTO hospital_stats ({', '.join(old_columns)}) "
        f"VALUES ({', '.join(':' + c for c in old_columns)})"
    )
    with pytest.raises(REFUSED), app.app_context(), db.engine.begin() as conn:
        conn.execute(statement, {c: row[c] for c in old_columns})
    with app.app_context():
        upgrade()
        indexes = {i["name"] for i in inspect(db.engine).get_indexes("hospital_stats")}
        assert {"ix_hospital_stats_report_date", "ix_hospital_stats_outlier"} <= indexes
    with pytest.raises(REFUSED):
        insert_report(app, hospital_id, report_date=today() + timedelta(days=5))
    insert_report(app, hospital_id, report_date=today())
    with app.app_context():
        stored = db.session.scalars(select(Report)).one()
        assert (stored.outlier_confirmed, stored.outlier_note) == (False, None)
