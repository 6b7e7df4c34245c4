"""The review of a region's day and its sign-off (issue 13, points 1, 2 and 6): what the page
shows, signing off all or nothing, two reviewers at once, reopening with a reason, and that
no path lets an editor change a signed-off report."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from helpers import (
    CSRF_RE,
    count_queries,
    fetch,
    hidden_fields,
    make_hospital,
    make_report,
    make_user,
    page_text,
    report_form,
    shown,
    signed_in_client,
    today,
    yesterday,
)
from sqlalchemy import event, select

from hospital_app.extensions import db
from hospital_app.models import AuditEntry, Report

DAY = yesterday()


@pytest.fixture
def north(app):
    """Two hospitals of North with their report of DAY, one of South."""
    a = make_hospital(app, code="N-1", name="North One", region="North")
    b = make_hospital(app, code="N-2", name="North Two", region="North")
    s = make_hospital(app, code="S-1", name="South One", region="South")
    return {"a": a, "b": b, "s": s}


def reviewer(app, email="rita@example.org", name="Rita Reviewer", **regions):
    make_user(app, "reviewer", email=email, name=name, **regions)
    return signed_in_client(app, email)


@pytest.fixture
def rita(app, north):
    return reviewer(app, regions=("North",))


def review_url(region="North", day=DAY):
    return f"/review?date={day.isoformat()}&region={region}"


def sign_off_form(client, region="North", day=DAY, **extra):
    page = client.get(review_url(region, day))
    assert page.status_code == 200, page_text(page)
    return {**hidden_fields(page), **extra}


def reports_of(app, *hospital_ids, day=DAY) -> list[Report]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(Report)
                .where(Report.hospital_id.in_(hospital_ids), Report.report_date == day)
                .order_by(Report.hospital_id)
            )
        )


def audit_actions(app, action) -> list[AuditEntry]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_the_page_shows_each_hospital_of_the_region_with_its_figures(app, rita, north):
    page = rita.get(review_url())
    text = page_text(page)
    assert page.status_code == 200
    assert "North One" in text and "North Two" in text
    assert "South One" not in text
    assert "150 of 200" in text  # occupied beds of total
    assert "0 of 2 reports signed off" in text
    assert "Provisional" in text


def test_signing_off_marks_every_report_of_the_region_and_day_in_the_audit_trail(
    app, rita, north
):
    response = rita.post("/review/sign-off", data=sign_off_form(rita))
    assert response.status_code == 303
    page = rita.get(response.headers["Location"])
    assert "2 reports of North for" in page_text(page)
    assert "2 of 2 reports signed off" in page_text(page)
    signed = reports_of(app, north["a"], north["b"])
    assert all(r.signed_off_at is not None and r.signed_off_by_id for r in signed)
    assert reports_of(app, north["s"])[0].signed_off_at is None  # South is not North
    entries = audit_actions(app, "signed off")
    assert sorted(e.record_id for e in entries) == sorted(r.id for r in signed)
