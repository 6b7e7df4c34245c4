"""flask seed-demo: deterministic, realistic demo data that obeys every rule."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from hospital_app import rules
from hospital_app.extensions import db
from hospital_app.models import Hospital, HospitalStats


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
                HospitalStats.report_date,
                *(getattr(HospitalStats, f) for f in rules.COUNT_FIELDS),
            )
            .join(Hospital)
            .order_by(Hospital.code, HospitalStats.report_date)
        ).all()
    return [tuple(r) for r in hospitals + reports]


def test_seed_demo_writes_the_asked_amount_ending_today(app, runner):
    result = runner.invoke(args=["seed-demo", "--hospitals", "7", "--days", "12"])
    assert result.exit_code == 0, result.output
    assert "Wrote 7 hospitals and 84 reports." in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Hospital)) == 7
        first, last = db.session.execute(
            select(func.min(HospitalStats.report_date), func.max(HospitalStats.report_date))
        ).one()
        per_hospital = (
            db.session.execute(
                select(func.count()).select_from(HospitalStats).group_by(HospitalStats.hospital_id)
            )
            .scalars()
            .all()
        )
    assert last == date.today() and first == date.today() - timedelta(days=11)
    assert per_hospital == [12] * 7


def test_seed_demo_obeys_every_rule(app, runner):
    assert runner.invoke(args=["seed-demo", "--hospitals", "20", "--days", "30"]).exit_code == 0
    with app.app_context():
        reports = db.session.scalars(select(HospitalStats)).all()
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
    from conftest import empty_tables

    runner.invoke(args=["seed-demo", "--hospitals", "5", "--days", "10", "--seed", "3"])
    first = snapshot(app)
    empty_tables(app)
    runner.invoke(args=["seed-demo", "--hospitals", "5", "--days", "10", "--seed", "3"])
    assert snapshot(app) == first and len(first) == 55
    empty_tables(app)
    runner.invoke(args=["seed-demo", "--hospitals", "5", "--days", "10", "--seed", "4"])
    assert snapshot(app) != first


def test_seed_demo_refuses_to_run_twice(app, runner):
    runner.invoke(args=["seed-demo", "--hospitals", "2", "--days", "2"])
    result = runner.invoke(args=["seed-demo", "--hospitals", "2", "--days", "2"])
    assert result.exit_code == 1
    assert "already holds 2 demo hospitals" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(HospitalStats)) == 4


def test_seed_demo_rejects_nonsense_arguments(runner):
    result = runner.invoke(args=["seed-demo", "--hospitals", "0"])
    assert result.exit_code == 2 and "--hospitals" in result.output
