"""Export → import is a round trip that changes nothing (issue 4).

The reports export writes exactly the importer's format, neutralising cells a spreadsheet
would run as formulas; the importer undoes that. So a file downloaded from /reports imports
back as all "unchanged": no row, version or audit entry moves. And into a database that lost
those reports, the same file brings every value back exactly.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from helpers import count, csrf_token, make_hospital, page_text
from helpers import today as app_today
from sqlalchemy import delete, select

from hospital_app.extensions import db
from hospital_app.models import AuditEntry, Hospital, Report

# Notes a person could have saved through the form (which trims them), chosen to trip a
# spreadsheet or a careless CSV writer: formulas, quotes, commas, new lines, non-ASCII.
NOTES = [
    "=SUM(A1:A9)",
    "+1 nurse on leave",
    "-",
    "@channel",
    "'quoted already",
    "''twice",
    '=HYPERLINK("http://example.org","x")',
    'comma, and "quotes"',
    "two\nlines",
    "tab\tinside",
    "Zürich – naïve café ✓",
    None,
]


def snapshot(app) -> list[tuple]:
    """Every stored report, every column that matters, in a stable order."""
    with app.app_context():
        return [
            tuple(row)
            for row in db.session.execute(
                select(Report.__table__).join(Hospital).order_by(Hospital.code, Report.report_date)
            )
        ]


@pytest.fixture
def network(app):
    """Two regions, codes that start with a hyphen or look like numbers, and NOTES."""
    today = app_today()
    for h, (code, region) in enumerate([("-AB-1", "North"), ("0042", "South"), ("NRH-1", "North")]):
        make_hospital(
            app,
            code=code,
            name=f"=Hospital {h}",
            region=region,
            reports=tuple(
                {
                    "report_date": today - timedelta(days=n + 1),
                    "beds_occupied": 100 + n + h,
                    "notes": NOTES[(n + h) % len(NOTES)],
                }
                for n in range(len(NOTES))
            ),
        )


def import_file(client, data: bytes, dry_run: bool = False):
    form = {
        "file": (io.BytesIO(data), "reports.csv"),
        "csrf_token": csrf_token(client, "/reports/import"),
    }
    if dry_run:
        form["dry_run"] = "y"
    return client.post("/reports/import", data=form, content_type="multipart/form-data")


def test_an_export_imports_back_unchanged(app, client, network):
    before = snapshot(app)
    entries = count(app, AuditEntry)
    exported = client.get("/reports/export.csv")
    assert exported.status_code == 200
    data = exported.get_data()
    # The formulas really went out neutralised.
    assert "'=SUM(A1:A9)" in data.decode("utf-8-sig")
    assert "'-AB-1" in data.decode("utf-8-sig")

    checked = import_file(client, data, dry_run=True)
    assert checked.status_code == 200
    assert f"importing it would give 0 new, 0 updated, {len(before)} unchanged" in page_text(
        checked
    )

    response = import_file(client, data)
    assert response.status_code == 303
    assert f"Imported {len(before)} rows: 0 new, 0 updated, {len(before)} unchanged" in (
        page_text(client.get(response.location))
    )
    assert snapshot(app) == before  # every value, version and timestamp
    assert count(app, AuditEntry) == entries


@pytest.mark.writes_around_the_app  # the loss is a DELETE of its own
def test_an_export_restores_lost_reports_exactly(app, client, network):
    def values(rows):
        # What the file carries: the hospital, the date, the counts and the notes
        # (not the ids, times and versions of the rows that held them).
        skip = {"id", "created_at", "updated_at", "version"}
        columns = [c.name for c in Report.__table__.columns if c.name not in skip]
        return [tuple(r._mapping[c] for c in columns) for r in rows]

    with app.app_context():
        rows = db.session.execute(
            select(Report.__table__).order_by(Report.hospital_id, Report.report_date)
        ).all()
    before = values(rows)
    data = client.get("/reports/export.csv?region=North").get_data()
    with app.app_context():
        north = select(Hospital.id).where(Hospital.region == "North")
        db.session.execute(delete(Report).where(Report.hospital_id.in_(north)))
        db.session.commit()

    response = import_file(client, data)
    assert response.status_code == 303
    with app.app_context():
        rows = db.session.execute(
            select(Report.__table__).order_by(Report.hospital_id, Report.report_date)
        ).all()
    assert values(rows) == before
