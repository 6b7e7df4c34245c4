"""The CSV import of reports: the upload page /reports/import and the command
`flask import-stats`, one importer. All or nothing, the form's rules and messages, every bad
row listed with its line and column, the audit trail, batches, size limit."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date, timedelta

import pytest
from flask_login import login_user
from helpers import (
    ADMIN_EMAIL,
    BAD_REPORTS,
    count,
    count_queries,
    csrf_token,
    fetch,
    fresh_app,
    hidden_fields,
    make_hospital,
    make_report,
    make_user,
    page_text,
    report_values,
    shown,
    signed_in_client,
    today,
    yesterday,
)
from sqlalchemy import select
from sqlalchemy.pool import NullPool

from hospital_app import rules
from hospital_app.extensions import db
from hospital_app.models import Account, AuditEntry, Hospital, Report, utcnow
from hospital_app.reports import importer

HEADER = ["hospital_code", "report_date", *rules.COUNT_FIELDS, "notes"]


def day(n: int) -> date:
    """n days before today."""
    return today() - timedelta(days=n)


def cells(code: str = "NRH-001", **overrides) -> list[str]:
    """One CSV row of report_values(**overrides) for the hospital `code`."""
    values = report_values(**overrides)
    out = [code]
    for name in HEADER[1:]:
        value = values[name]
        out.append(
            "" if value is None else value.isoformat() if isinstance(value, date) else str(value)
        )
    return out


def csv_bytes(rows, header=HEADER, bom: bool = False) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")


def upload(client, data: bytes, csrf: str | None, dry_run: bool = False, name="stats.csv"):
    form = {"file": (io.BytesIO(data), name)}
    if csrf is not None:
        form["csrf_token"] = csrf
    if dry_run:
        form["dry_run"] = "y"
    return client.post("/reports/import", data=form, content_type="multipart/form-data")


@pytest.fixture
def token(client) -> str:
    return csrf_token(client, "/reports/import")


def reports(app) -> list[tuple]:
    """(code, date, beds_occupied, notes) of every stored report, in order."""
    with app.app_context():
        return [
            tuple(r)
            for r in db.session.execute(
                select(
                    Hospital.code,
                    Report.report_date,
                    Report.beds_occupied,
                    Report.notes,
                )
                .join(Hospital)
                .order_by(Hospital.code, Report.report_date)
            )
        ]


def audit(app) -> list[AuditEntry]:
    """The audit trail's entries about reports made by someone (the factories write as
    "system")."""
    with app.app_context():
        entries = db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.record_type == "report", AuditEntry.actor != "system")
            .order_by(AuditEntry.id)
        ).all()
        db.session.expunge_all()
        return entries


def problems(response) -> str:
    assert response.status_code == 422, page_text(response)
    text = page_text(response)
    assert "Nothing was imported" in text
    return text


# --- A good file -----------------------------------------------------------------------------


def test_good_file_imports_every_row_with_its_audit_entry(app, client, token):
    make_hospital(app, reports=())
    make_hospital(app, reports=(), code="SGH-002", name="Southgate General")
    data = csv_bytes(
        [
            cells(report_date=day(3)),
            cells(report_date=day(2), beds_occupied=160, notes="Ward 3 closed"),
            cells("sgh-002", report_date=day(2)),  # codes are compared upper-case, like the form
        ]
    )
    response = upload(client, data, token)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/reports/import")
    text = page_text(client.get("/reports/import"))
    assert "Imported 3 rows: 3 new, 0 updated, 0 unchanged" in text

    assert reports(app) == [
        ("NRH-001", day(3), 150, None),
        ("NRH-001", day(2), 160, "Ward 3 closed"),
        ("SGH-002", day(2), 150, None),
    ]
    entries = audit(app)
    assert [(e.action, e.record_type) for e in entries] == [("create", "report")] * 3
    assert {e.actor for e in entries} == {f"Ada Admin <{ADMIN_EMAIL}>"}
    assert entries[1].changes["beds_occupied"] == [None, 160]
    assert entries[1].changes["notes"] == [None, "Ward 3 closed"]


def test_update_and_identical_rows(app, client, token):
    hospital_id = make_hospital(
        app,
        reports=({"report_date": day(2)}, {"report_date": day(1), "notes": "as before"}),
    )
    with app.app_context():
        changed_id, same_id = db.session.scalars(
            select(Report.id).order_by(Report.report_date)
        ).all()
    same_before = fetch(app, Report, same_id)
    data = csv_bytes(
        [
            # 151: within the census check's tolerance of both neighbours' 150.
            cells(report_date=day(2), beds_occupied=151),
            cells(report_date=day(1), notes="  as before  "),  # notes are trimmed, as the form does
            cells(report_date=day(3)),
        ]
    )
    response = upload(client, data, token)
    assert response.status_code == 303
    assert "3 rows: 1 new, 1 updated, 1 unchanged" in page_text(client.get("/reports/import"))

    changed = fetch(app, Report, changed_id)
    assert changed.beds_occupied == 151 and changed.version == 2
    same = fetch(app, Report, same_id)
    assert (same.version, same.updated_at) == (same_before.version, same_before.updated_at)
    entries = audit(app)
    assert sorted((e.action, e.record_id) for e in entries if e.action == "update") == [
        ("update", changed_id)
    ]
    update = next(e for e in entries if e.action == "update")
    assert update.changes == {"beds_occupied": [150, 151]}
    assert update.hospital_id == hospital_id
    assert [e.action for e in entries].count("create") == 1


def test_without_a_notes_column_the_stored_notes_stay(app, client, token):
    make_hospital(app, reports=({"report_date": day(1), "notes": "kept"},))
    data = csv_bytes([cells(report_date=day(1), beds_occupied=151)[:-1]], header=HEADER[:-1])
    assert upload(client, data, token).status_code == 303
    assert reports(app) == [("NRH-001", day(1), 151, "kept")]


def test_dry_run_counts_and_writes_nothing(app, client, token):
    make_hospital(app, reports=({"report_date": day(2)}, {"report_date": day(1)}))
    data = csv_bytes(
        [
            cells(report_date=day(2), beds_occupied=170),
            cells(report_date=day(1)),
            cells(report_date=day(3)),
            cells(report_date=day(4)),
        ]
    )
    before = reports(app)
    response = upload(client, data, token, dry_run=True)
    assert response.status_code == 200
    text = page_text(response)
    assert "Dry run: nothing was saved." in text
    assert (
        "All 4 rows of the file are correct; importing it would give 2 new, 1 updated, 1 unchanged"
        in text
    )
    assert 'checked id="dry_run"' not in response.get_data(as_text=True)
    assert reports(app) == before
    assert len(audit(app)) == 0


def test_bom_and_columns_in_another_order(app, client, token):
    make_hospital(app, reports=())
    order = list(reversed(HEADER))
    row = dict(zip(HEADER, cells(report_date=day(1), notes="é ü ✓"), strict=True))
    data = csv_bytes([[row[c] for c in order]], header=[c.upper() for c in order], bom=True)
    assert upload(client, data, token).status_code == 303
    assert reports(app) == [("NRH-001", day(1), 150, "é ü ✓")]


def semicolon_bytes(rows, header=HEADER) -> bytes:
    """What Excel writes as "CSV" where the comma is the decimal mark."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def test_a_semicolon_separated_file_is_read_as_such(app, client, token):
    make_hospital(app, reports=({"report_date": day(2)},))
    rows = [
        cells(report_date=day(2), beds_occupied=151, notes="Ward B; closed, for cleaning"),
        cells(report_date=day(1), notes="1,5 % more"),
    ]
    response = upload(client, semicolon_bytes(rows), token, dry_run=True)
    assert response.status_code == 200
    assert "semicolons" in page_text(response)
    response = upload(client, semicolon_bytes(rows), token)
    assert response.status_code == 303, page_text(response)
    flashed = page_text(client.get(response.location))
    assert "Imported 2 rows from a semicolon-separated file: 1 new, 1 updated" in flashed
    assert reports(app) == [
        ("NRH-001", day(2), 151, "Ward B; closed, for cleaning"),
        ("NRH-001", day(1), 150, "1,5 % more"),
    ]


def test_a_semicolon_file_with_a_stray_semicolon_says_to_quote_it(app, client, token):
    make_hospital(app, reports=())
    data = semicolon_bytes([]) + ";".join([*cells(report_date=day(1))[:-1], "a;b"]).encode()
    text = problems(upload(client, data, token))
    assert "This line has 13 cells but the header has 12. A value holding a semicolon" in text


@pytest.mark.parametrize(
    "header",
    [
        "\t".join(HEADER),  # tab-separated text
        "hospital_code|report_date|beds_total",
        "Daily figures, March",  # a title line above the table
    ],
    ids=["tabs", "bars", "title"],
)
def test_a_file_neither_commas_nor_semicolons_read_says_how_to_save_it(app, client, token, header):
    data = (header + "\r\nNRH-001\r\n").encode()
    text = problems(upload(client, data, token))
    if header.startswith("Daily"):
        # Two cells, none of them a column: the header's own message says what is wrong.
        assert "this import does not know: “daily figures” and “march”" in text
    else:
        assert (
            "1 whole line Line 1, the header, has neither commas nor semicolons between its "
            "columns, so this file cannot be read as CSV. In your spreadsheet program, save it "
            "as “CSV (comma delimited)”"
        ) in text


def test_a_comma_file_whose_notes_hold_semicolons_stays_a_comma_file(app, client, token):
    make_hospital(app, reports=())
    response = upload(client, csv_bytes([cells(report_date=day(1), notes="a;b;c")]), token)
    assert response.status_code == 303
    assert "semicolon-separated" not in page_text(client.get(response.location))
    assert reports(app) == [("NRH-001", day(1), 150, "a;b;c")]


def test_cells_neutralised_by_the_export_are_restored(app, client, token):
    make_hospital(app, reports=(), code="-AB1")
    data = csv_bytes(
        [
            cells("'-AB1", report_date=day(3), notes="'=SUM(A1)"),
            cells("'-AB1", report_date=day(2), notes="''quoted"),
            cells("'-AB1", report_date=day(1), notes="'typed by hand"),
        ]
    )
    assert upload(client, data, token).status_code == 303
    assert [r[3] for r in reports(app)] == ["=SUM(A1)", "'quoted", "'typed by hand"]


def test_paper_style_numbers_are_read_as_the_form_reads_them(app, client, token):
    make_hospital(app, reports=())
    data = csv_bytes([cells(report_date=day(1), beds_total="1,200", beds_occupied=" 1 100 ")])
    assert upload(client, data, token).status_code == 303
    with app.app_context():
        report = db.session.scalars(select(Report)).one()
        assert (report.beds_total, report.beds_occupied) == (1200, 1100)


def test_the_page_shows_the_format_and_a_template(client):
    text = page_text(client.get("/reports/import"))
    assert ",".join(HEADER) in text
    assert "Download an empty template (CSV)" in text
    response = client.get("/reports/import/template.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.get_data(as_text=True) == "\ufeff" + ",".join(HEADER) + "\r\n"


def test_the_template_imports_as_an_empty_file_with_a_clear_message(app, client, token):
    template = client.get("/reports/import/template.csv").get_data()
    assert "header line but no rows" in problems(upload(client, template, token))


# --- Bad rows: nothing written, every problem listed ----------------------------------------


@pytest.mark.parametrize(("change", "field", "message"), BAD_REPORTS)
def test_every_rule_of_the_form_with_its_message(app, client, token, change, field, message):
    """The rows break the report form's rules (test_reports' own table): same message."""
    make_hospital(app, reports=())
    data = csv_bytes([cells(report_date=day(2)), cells(**{"report_date": day(1), **change})])
    text = problems(upload(client, data, token))
    assert f"3 {field} " in text and message in text
    assert count(app, Report) == 0


def test_one_bad_row_among_many_writes_nothing(app, client, token, monkeypatch):
    """Small batches, so rows before the bad one were flushed already: they go too."""
    monkeypatch.setattr(importer, "BATCH_ROWS", 10)
    make_hospital(app, reports=({"report_date": day(100)},))
    rows = [cells(report_date=day(n)) for n in range(1, 60)]
    rows[44] = cells(report_date=day(45), beds_occupied=201)  # line 46
    with count_queries(app) as statements:
        text = problems(upload(client, csv_bytes(rows), token))
    assert any(s.startswith("INSERT INTO hospital_stats") for s in statements), "never flushed"
    assert "1 problem to correct" in text
    assert "46 beds_occupied Occupied beds (201) cannot exceed total beds (200)." in text
    assert reports(app) == [("NRH-001", day(100), 150, None)]
    assert len(audit(app)) == 0


def test_every_problem_of_a_row_is_listed_in_column_order(app, client, token):
    make_hospital(app, reports=())
    data = csv_bytes(
        [cells("NOPE-1", report_date="31/12/2025", beds_total="lots", deaths="", notes="n" * 2001)]
    )
    text = problems(upload(client, data, token))
    assert "5 problems to correct" in text
    assert (
        "2 hospital_code No hospital has the code “NOPE-1”. "
        "2 report_date “31/12/2025” is not a date: write it as year-month-day, like "
        f"{today().isoformat()}. "
        "2 beds_total Total beds must be a whole number from 0 to 100,000, not “lots”. "
        "2 deaths Enter a number, 0 if there are none. "
        "2 notes Keep notes to 2,000 characters."
    ) in text


def test_more_than_a_thousand_bad_rows(app, client, token):
    rows = [cells("NOPE-1", report_date=day(1 + n % 300)) for n in range(1100)]
    response = upload(client, csv_bytes(rows), token)
    text = problems(response)
    assert "1,100 problems to correct" in text
    assert "The first 1,000 problems are listed below; 100 more were found." in text
    assert response.get_data(as_text=True).count("No hospital has the code") == 1000
    assert "1,001 hospital_code No hospital" in text and "1,002 hospital_code" not in text


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            [c for c in HEADER if c not in ("beds_total", "deaths")],
            "The header lacks the columns “beds_total” and “deaths”.",
        ),
        (
            [c for c in HEADER if c not in ("beds_total", "admissions", "deaths")],
            "The header lacks the columns “beds_total”, “admissions” and “deaths”.",
        ),
        ([*HEADER, "ward"], "The header has a column this import does not know: “ward”."),
        (
            [*HEADER, "ward", "floor"],
            "The header has 2 columns this import does not know: “ward” and “floor”.",
        ),
        (
            ["hospital", *HEADER[1:]],
            "The header lacks the column “hospital_code”.",
        ),
        (
            ["Hospital Code", *HEADER[1:]],
            "Write “hospital code” as “hospital_code”.",
        ),
        ([*HEADER, "deaths"], "The column “deaths” appears more than once in the header."),
        (
            [*HEADER, "deaths", "notes"],
            "The columns “deaths” and “notes” each appear more than once in the header.",
        ),
        ([*HEADER, ""], "Column 13 of the header has no name."),
        ([*HEADER, "", ""], "Columns 13 and 14 of the header have no name."),
    ],
)
def test_header_is_checked_first(app, client, token, header, message):
    make_hospital(app, reports=())
    text = problems(upload(client, csv_bytes([cells(report_date=day(1))], header=header), token))
    assert message in text
    # What to do is said once, after the last problem.
    guidance = f"The first line must name these columns, in any order: {','.join(HEADER)}"
    assert text.count(guidance) == 1
    assert f"{guidance} (notes may be left out)." in text
    assert count(app, Report) == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "1 whole line The file is empty."),
        (b"\xef\xbb\xbf", "The file is empty."),
        (csv_bytes([]), "2 whole line The file has the header line but no rows"),
        (csv_bytes([], bom=True) + b"\r\n,,,\r\n", "no rows"),
        (
            csv_bytes([cells(report_date=day(2))]) + "NRH-001,x,Café".encode("latin-1"),
            "3 whole line Line 3 is not UTF-8 text (byte 0xE9 at character 14).",
        ),
        (
            ("\ufeff" + ",".join(HEADER) + "\r\n").encode("utf-16"),
            "This file is UTF-16 text, not UTF-8.",
        ),
        (
            b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00b\xee\x9dh",
            "Line 1 holds a NUL byte: this looks like a binary file",
        ),
        (b"x" * (70 * 1024), "Line 1 is longer than 64 kB"),
    ],
)
def test_files_that_are_not_utf8_csv(app, client, token, data, message):
    make_hospital(app, reports=())
    text = problems(upload(client, data, token))
    assert message in text
    assert count(app, Report) == 0


def test_line_numbers_count_lines_inside_quoted_notes(app, client, token):
    make_hospital(app, reports=())
    data = csv_bytes(
        [
            cells(report_date=day(3), notes="first line\nsecond line"),
            cells(report_date=day(2), deaths=-1),
        ]
    )
    assert "4 deaths Deaths must be a whole number" in problems(upload(client, data, token))


def test_a_line_with_too_many_cells(app, client, token):
    make_hospital(app, reports=())
    data = csv_bytes([[*cells(report_date=day(1)), "extra"]])
    text = problems(upload(client, data, token))
    assert "2 whole line This line has 13 cells but the header has 12." in text


def test_the_same_hospital_and_date_twice(app, client, token):
    make_hospital(app, reports=())
    data = csv_bytes(
        [cells(report_date=day(1)), cells(report_date=day(2)), cells("nrh-001", report_date=day(1))]
    )
    text = problems(upload(client, data, token))
    assert (
        f"4 report_date Line 2 is already for NRH-001 on {shown(day(1))}: "
        "a hospital and date may appear only once."
    ) in text


def test_unknown_and_archived_hospitals(app, client, token):
    make_hospital(app, reports=())
    make_hospital(app, reports=(), code="OLD-1", name="Old Cottage Hospital", is_active=False)
    data = csv_bytes(
        [
            cells(report_date=day(1)),
            cells("OLD-1", report_date=day(1)),
            cells("", report_date=day(1)),
        ]
    )
    text = problems(upload(client, data, token))
    assert (
        "3 hospital_code Old Cottage Hospital (OLD-1) is archived, so its reports cannot be added"
        in text
    )
    assert "4 hospital_code Enter the hospital's facility code." in text
    assert count(app, Report) == 0


# --- Who may import --------------------------------------------------------------------------


def test_editor_imports_for_assigned_hospitals_only(app, login_as):
    mine = make_hospital(app, reports=())
    make_hospital(app, reports=(), code="SGH-002", name="Southgate General")
    editor = login_as("editor", hospitals=(mine,))
    token = csrf_token(editor, "/reports/import")
    assert ">Import</a>" in editor.get("/reports/import").get_data(as_text=True)

    data = csv_bytes([cells(report_date=day(1)), cells("SGH-002", report_date=day(1))])
    text = problems(upload(editor, data, token))
    assert (
        "3 hospital_code You can change reports only for the hospitals assigned to you, "
        "and Southgate General is not one of them."
    ) in text
    assert count(app, Report) == 0

    assert upload(editor, csv_bytes([cells(report_date=day(1))]), token).status_code == 303
    assert reports(app) == [("NRH-001", day(1), 150, None)]
    assert {e.actor for e in audit(app)} == {"Editor Person <editor1@example.org>"}


def test_viewer_may_not_import(app, login_as, client):
    make_hospital(app, reports=())
    viewer = login_as("viewer")
    assert ">Import</a>" not in viewer.get("/").get_data(as_text=True)
    for response in (
        viewer.get("/reports/import"),
        viewer.get("/reports/import/template.csv"),
        upload(viewer, csv_bytes([cells(report_date=day(1))]), csrf_token(client)),
    ):
        assert response.status_code == 403
        assert "can see reports but not change them" in page_text(response)
    assert count(app, Report) == 0


def test_anonymous_is_sent_to_sign_in(app, anon):
    make_hospital(app, reports=())
    for response in (
        anon.get("/reports/import"),
        upload(anon, csv_bytes([cells(report_date=day(1))]), None),
    ):
        assert response.status_code in (302, 303)
        assert "/login" in response.headers["Location"]
    assert count(app, Report) == 0


# --- The request: size, CSRF, faults ---------------------------------------------------------


def test_files_over_the_app_limit_but_under_the_import_limit_are_accepted(app, client, token):
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    assert app.config["IMPORT_MAX_BYTES"] == 20 * 1024 * 1024
    make_hospital(app, reports=())
    padding = " " * 60_000  # trimmed away, like spaces typed into the form's notes
    data = csv_bytes([cells(report_date=day(n), notes=padding) for n in range(1, 26)])
    assert len(data) > 1024 * 1024
    assert upload(client, data, token).status_code == 303
    assert count(app, Report) == 25


def test_too_large_a_file_is_refused_with_the_limit(app, client, token):
    app.config["IMPORT_MAX_BYTES"] = 2 * 1024 * 1024
    make_hospital(app, reports=())
    data = csv_bytes([cells(report_date=day(n), notes=" " * 60_000) for n in range(1, 40)])
    assert len(data) > 2 * 1024 * 1024
    response = upload(client, data, token)
    assert response.status_code == 413
    text = page_text(response)
    assert "File too large" in text
    assert (
        "The file is larger than 2 MB, the most the import accepts, so nothing was imported."
        in text
    )
    assert count(app, Report) == 0


def test_missing_csrf_token(app, client):
    make_hospital(app, reports=())
    response = upload(client, csv_bytes([cells(report_date=day(1))]), None)
    assert response.status_code == 400
    assert "security token was missing" in page_text(response)
    assert count(app, Report) == 0


def test_no_file_chosen(app, client, token):
    response = client.post(
        "/reports/import",
        data={"csrf_token": token, "file": (io.BytesIO(b""), "")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Choose the CSV file to import." in page_text(response)


@pytest.fixture
def worker(migrated_url):
    """Errors reach the 500 handler, as in production."""
    with fresh_app(migrated_url, PROPAGATE_EXCEPTIONS=False) as app:
        yield app


@pytest.mark.parametrize("fail_on", ["INSERT INTO hospital_stats", "UPDATE hospital_stats"])
def test_a_database_fault_mid_import_writes_nothing(worker, fail_on, monkeypatch):
    monkeypatch.setattr(importer, "BATCH_ROWS", 5)
    make_user(worker, "admin", email=ADMIN_EMAIL)
    browser = signed_in_client(worker, ADMIN_EMAIL)
    make_hospital(worker, reports=({"report_date": day(1)},))
    # New rows first (flushed in their own batches), the update last.
    rows = [cells(report_date=day(n)) for n in range(20, 2, -1)]
    rows.append(cells(report_date=day(1), beds_occupied=99))
    before = reports(worker)
    with count_queries(worker, fail_on=fail_on) as statements:
        response = upload(browser, csv_bytes(rows), csrf_token(browser, "/reports/import"))
    assert response.status_code == 500
    assert "nothing of it was saved" in page_text(response)
    assert any(s.startswith(fail_on) for s in statements)
    assert reports(worker) == before
    assert len(audit(worker)) == 0
    assert browser.get("/reports/import").status_code == 200


def test_statements_are_per_batch_not_per_row(app, client, token, monkeypatch):
    """Each batch costs the same statements however many rows it holds: executemany INSERTs
    and UPDATEs, one audit INSERT, one unusual-figures query, never one statement a row."""
    monkeypatch.setattr(importer, "BATCH_ROWS", 100)
    make_hospital(app, reports=())
    make_hospital(app, reports=(), code="SGH-002", name="Southgate General")

    def rows(first: int, days: int, **values) -> list[list[str]]:
        return [
            cells(code, report_date=day(n), **values)
            for n in range(first, first + days)
            for code in ("NRH-001", "SGH-002")
        ]

    def sent(data: list[list[str]]) -> Counter:
        """The statements of one import, by kind."""
        with count_queries(app) as statements:
            assert upload(client, csv_bytes(data), token).status_code == 303
        kinds = Counter()
        for statement in statements:
            words = statement.split()
            kind = " ".join(words[:3]) if words[0] in ("INSERT", "UPDATE") else words[0]
            if kind == "SELECT" and "sum(" in statement.lower():
                kind = "SELECT history"  # the unusual-figures check (outliers.py)
            kinds[kind] += 1
        return kinds

    one_small_batch = sent(rows(1, 10))  # 20 rows
    one_full_batch = sent(rows(11, 50))  # 100 rows
    assert one_small_batch == one_full_batch
    assert one_full_batch["INSERT INTO hospital_stats"] == 1
    assert one_full_batch["INSERT INTO audit_log"] == 1
    assert one_full_batch["SELECT history"] == 1
    assert "UPDATE hospital_stats SET" not in one_full_batch

    three_batches = sent(rows(61, 150))  # 300 rows
    per_batch = ("INSERT INTO hospital_stats", "INSERT INTO audit_log", "SELECT history")
    assert all(three_batches[kind] == 3 for kind in per_batch), three_batches
    assert sum(three_batches.values()) - sum(one_full_batch.values()) < 2 * 8, three_batches
    assert count(app, Report) == 420 and len(audit(app)) == 420

    # Every row changed: one UPDATE a batch, by id and version.
    changed = sent(rows(61, 150, beds_occupied=151))
    assert changed["UPDATE hospital_stats SET"] == 3
    assert changed["INSERT INTO audit_log"] == 3
    assert "INSERT INTO hospital_stats" not in changed
    assert "300 rows: 0 new, 300 updated" in page_text(client.get("/reports/import"))
    assert count(app, Report, Report.version == 2) == 300

    # Importing the same file again: everything unchanged, nothing written.
    unchanged = sent(rows(61, 150, beds_occupied=151))
    assert not [kind for kind in unchanged if kind.startswith(("INSERT", "UPDATE"))]
    assert "300 rows: 0 new, 0 updated, 300 unchanged" in page_text(client.get("/reports/import"))


# --- Importing the file just checked ---------------------------------------------------------


def check_then_import(client, data: bytes, token: str, change=None):
    """A dry run of `data`, then its "Import these reports" button, as a browser sends it
    (`change` may alter the fields first); the button's response."""
    checked = upload(client, data, token, dry_run=True)
    assert checked.status_code == 200, page_text(checked)
    fields = hidden_fields(checked, "checked-")
    assert set(fields) == {
        "checked-csrf_token",
        "checked-content",
        "checked-filename",
        "checked-counts",
        "checked-digest",
    }
    if change is not None:
        change(fields)
    return client.post("/reports/import", data=fields, content_type="multipart/form-data")


def test_a_checked_file_is_imported_without_choosing_it_again(app, client, token):
    make_hospital(app, reports=({"report_date": day(2)},))
    data = csv_bytes([cells(report_date=day(2), beds_occupied=151), cells(report_date=day(1))])
    checked = upload(client, data, token, dry_run=True)
    text = page_text(checked)
    assert "Import the file you checked, “stats.csv”, now, without choosing it again." in text
    assert "Import these 2 reports" in text
    assert count(app, Report) == 1

    response = check_then_import(client, data, token)
    assert response.status_code == 303, page_text(response)
    flashed = page_text(client.get(response.location))
    assert (
        "Imported 2 rows of “stats.csv”, the file you checked: 1 new, 1 updated, 0 unchanged"
    ) in flashed
    assert "changed between the check and the import" not in flashed
    assert reports(app) == [
        ("NRH-001", day(2), 151, None),
        ("NRH-001", day(1), 150, None),
    ]
    assert {e.action for e in audit(app)} == {"create", "update"}


def test_one_row_says_this_report(app, client, token):
    make_hospital(app, reports=())
    checked = upload(client, csv_bytes([cells(report_date=day(1))]), token, dry_run=True)
    assert "Import this report" in page_text(checked)


def test_the_checked_file_comes_back_byte_for_byte(app, client, token):
    """Line ends, quoted line breaks and a BOM travel unchanged (base64 in the page)."""
    make_hospital(app, reports=())
    data = semicolon_bytes([cells(report_date=day(1), notes="first line\r\nsecond; line")])
    response = check_then_import(client, data, token)
    assert response.status_code == 303, page_text(response)
    assert reports(app) == [("NRH-001", day(1), 150, "first line\r\nsecond; line")]


def test_a_report_saved_between_check_and_import_is_counted_and_said(app, client, token):
    hospital_id = make_hospital(app, reports=())
    data = csv_bytes([cells(report_date=day(2)), cells(report_date=day(1))])

    def colleague_enters_a_report(fields):
        make_report(app, hospital_id, report_date=day(1), beds_occupied=120, notes="theirs")

    response = check_then_import(client, data, token, colleague_enters_a_report)
    assert response.status_code == 303
    flashed = page_text(client.get(response.location))
    assert "the file you checked: 1 new, 1 updated, 0 unchanged" in flashed
    assert (
        "Reports of this file's hospitals and dates changed between the check and the import: "
        "the check counted 2 new, 0 updated and 0 unchanged."
    ) in flashed
    assert reports(app) == [
        ("NRH-001", day(2), 150, None),
        ("NRH-001", day(1), 150, None),
    ]


def test_a_file_that_became_wrong_since_the_check_is_not_imported(app, client, token):
    hospital_id = make_hospital(app, reports=())

    def archive(fields):
        with app.app_context():
            db.session.get(Hospital, hospital_id).is_active = False
            db.session.commit()

    response = check_then_import(client, csv_bytes([cells(report_date=day(1))]), token, archive)
    text = problems(response)
    assert "is archived, so its reports cannot be added" in text
    assert count(app, Report) == 0


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.update({"checked-content": f["checked-content"][:-8] + "QUFBQUFB"}),
        lambda f: f.update({"checked-filename": "other.csv"}),
        lambda f: f.update({"checked-counts": "0,0,2"}),
        lambda f: f.update({"checked-content": "not base64!"}),
        lambda f: f.update({"checked-digest": ""}),
    ],
    ids=["content", "filename", "counts", "not-base64", "no-digest"],
)
def test_a_checked_file_changed_on_the_way_is_refused(app, client, token, change):
    make_hospital(app, reports=())
    response = check_then_import(client, csv_bytes([cells(report_date=day(1))]), token, change)
    assert response.status_code == 422
    assert "The checked file did not come back intact, so nothing was imported." in page_text(
        response
    )
    assert count(app, Report) == 0


def test_the_import_button_needs_the_csrf_token(app, client, token):
    make_hospital(app, reports=())
    response = check_then_import(
        client, csv_bytes([cells(report_date=day(1))]), token, lambda f: f.pop("checked-csrf_token")
    )
    assert response.status_code == 400
    assert count(app, Report) == 0


def test_a_checked_file_over_the_form_field_limit_still_comes_back(app, client, token):
    """Werkzeug holds a form field to 500 kB unless told otherwise; a checked file travels as
    one."""
    make_hospital(app, reports=())
    rows = [cells(report_date=day(n), notes="n" * 2000) for n in range(1, 301)]
    data = csv_bytes(rows)
    assert len(data) > 600_000
    response = check_then_import(client, data, token)
    assert response.status_code == 303, page_text(response)
    assert count(app, Report) == 300


def test_a_file_too_large_to_carry_must_be_chosen_again(app, client, token):
    make_hospital(app, reports=())
    # Room for the file, not for it in the page (with the other fields of the button).
    app.config["IMPORT_MAX_BYTES"] = 64 * 1024 + 50
    checked = upload(client, csv_bytes([cells(report_date=day(1))]), token, dry_run=True)
    assert checked.status_code == 200
    text = page_text(checked)
    assert "To import it, choose the file again and press Import" in text, text[-1500:]
    assert not hidden_fields(checked, "checked-")


# --- The template prefilled with the person's hospitals ----------------------------------------


def prefilled(client, query: str = ""):
    return client.get(f"/reports/import/prefilled.csv{query}")


def csv_rows(response) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_the_page_links_the_prefilled_template_for_today(client):
    html = client.get("/reports/import").get_data(as_text=True)
    assert f'href="/reports/import/prefilled.csv?date={today().isoformat()}"' in html
    assert "Template with your hospitals for" in page_text(client.get("/reports/import"))


def test_the_prefilled_template_has_each_active_hospital_with_its_last_capacity(app, client):
    make_hospital(
        app,
        code="NRH-001",
        reports=(
            {"report_date": day(5), "beds_total": 180},
            {"report_date": day(2), "beds_total": 210, "icu_beds_total": 22},
        ),
    )
    make_hospital(app, code="ABC-003", name="Abbey Clinic", reports=())
    make_hospital(app, code="ZZZ-009", name="Closed Hospital", is_active=False)
    response = prefilled(client, f"?date={day(1).isoformat()}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert f"reports-import-{day(1).isoformat()}.csv" in response.headers["Content-Disposition"]
    empty_day = [""] * 6
    assert csv_rows(response) == [
        HEADER,
        # Sorted by code; no reports yet: nothing to start from.
        ["ABC-003", day(1).isoformat(), "", "", "", "", "", "", "", "", "", ""],
        # beds_total, beds_occupied, icu_beds_total, …: capacity of the newest report only.
        ["NRH-001", day(1).isoformat(), "210", "", "22", "", "15", *empty_day[:4], ""],
    ]


def test_the_prefilled_template_is_for_today_by_default(app, client):
    make_hospital(app)
    rows = csv_rows(prefilled(client))
    assert rows[1][:2] == ["NRH-001", today().isoformat()]


def test_an_editors_template_holds_their_active_hospitals_only(app, login_as):
    mine = make_hospital(app, reports=())
    archived = make_hospital(app, code="OLD-001", name="Old Hospital", is_active=False)
    make_hospital(app, code="SGH-002", name="Southgate General", reports=())
    editor = login_as("editor", hospitals=(mine, archived))
    rows = csv_rows(prefilled(editor))
    assert [row[0] for row in rows[1:]] == ["NRH-001"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?date=31/03/2026", "“31/03/2026” is not a date: write it as year-month-day"),
        ("?date=2026-02-30", "“2026-02-30” is not a date"),
        (f"?date={day(-1).isoformat()}", "The report date cannot be in the future"),
        ("?date=1999-12-31", "The date cannot be before 1 Jan 2000."),
    ],
)
def test_a_wrong_day_for_the_prefilled_template_is_a_400_that_says_why(client, query, message):
    response = prefilled(client, query)
    assert response.status_code == 400
    text = page_text(response)
    assert message in text and "Nothing was downloaded" in text


def test_the_prefilled_template_costs_the_same_queries_for_any_number_of_hospitals(app, login_as):
    first = make_hospital(app, reports=({"report_date": day(1)}, {"report_date": day(2)}))
    editor = login_as("editor", hospitals=(first,))
    admin = login_as("admin")

    def statements(client) -> int:
        with count_queries(app) as sent:
            assert prefilled(client).status_code == 200
        return len(sent)

    before = (statements(editor), statements(admin))
    ids = [
        make_hospital(app, code=f"HOS-{n:03}", name=f"Hospital {n}", reports=({},))
        for n in range(10)
    ]
    with app.app_context():
        from hospital_app.models import Account

        account = db.session.scalar(select(Account).where(Account.role == "editor"))
        account.hospitals += [db.session.get(Hospital, i) for i in ids]
        db.session.commit()
    assert len(csv_rows(prefilled(editor))) == 12
    assert (statements(editor), statements(admin)) == before


def test_a_code_a_spreadsheet_would_run_is_neutralised_and_imports_back(app, client, token):
    make_hospital(app, code="-12-A", reports=())
    rows = csv_rows(prefilled(client))
    assert rows[1][0] == "'-12-A"  # as the export writes it: text, not a formula
    rows[1][2:11] = ["100", "50", "10", "5", "8", "4", "3", "2", "0"]
    response = upload(client, csv_bytes(rows[1:]), token)
    assert response.status_code == 303, page_text(response)
    assert reports(app) == [("-12-A", today(), 50, None)]


def test_the_prefilled_template_filled_in_imports(app, client, token):
    make_hospital(app, reports=({"report_date": day(3)},))
    make_hospital(app, code="SGH-002", name="Southgate General", reports=())
    rows = csv_rows(prefilled(client, f"?date={day(1).isoformat()}"))
    figures = dict(beds_occupied="140", icu_beds_occupied="10", ventilators_in_use="5")
    figures.update(admissions="20", discharges="18", deaths="0")
    for row in rows[1:]:
        for name, value in figures.items():
            row[HEADER.index(name)] = value
    rows[2][HEADER.index("beds_total")] = "300"  # SGH-002 had no report to start from
    rows[2][HEADER.index("icu_beds_total")] = "30"
    rows[2][HEADER.index("ventilators_total")] = "12"
    response = upload(client, csv_bytes(rows[1:], bom=True), token)
    assert response.status_code == 303, page_text(response)
    assert reports(app) == [
        ("NRH-001", day(3), 150, None),
        ("NRH-001", day(1), 140, None),
        ("SGH-002", day(1), 140, None),
    ]


def test_the_prefilled_template_not_filled_in_says_which_lines(app, client, token):
    make_hospital(app, reports=({"report_date": day(3)},))
    make_hospital(app, code="SGH-002", name="Southgate General", reports=())
    data = prefilled(client).get_data()
    text = problems(upload(client, data, token))
    assert "2 problems to correct" in text
    day_figures = "“beds_occupied”, “icu_beds_occupied”, “ventilators_in_use”, “admissions”"
    assert (
        f"2 whole line Line 2 is not filled in: {day_figures}, “discharges” and “deaths” are "
        "empty. Enter the day's figures (0 when there are none), or delete the line if that "
        "hospital has nothing to report for the day."
    ) in text
    assert "3 whole line Line 3 is not filled in: “beds_total”, “beds_occupied”" in text
    assert "Enter a number" not in text
    assert count(app, Report) == 1


def test_a_partly_filled_line_names_each_empty_cell(app, client, token):
    make_hospital(app, reports=())
    row = cells(report_date=day(1))
    row[HEADER.index("deaths")] = ""
    text = problems(upload(client, csv_bytes([row]), token))
    assert "2 deaths Enter a number, 0 if there are none." in text
    assert "not filled in" not in text


# --- The command -----------------------------------------------------------------------------


def write(tmp_path, data: bytes):
    path = tmp_path / "stats.csv"
    path.write_bytes(data)
    return str(path)


def test_command_imports(app, runner, tmp_path):
    make_hospital(app, reports=({"report_date": day(1)},))
    path = write(
        tmp_path, csv_bytes([cells(report_date=day(2)), cells(report_date=day(1), deaths=2)])
    )
    result = runner.invoke(args=["import-reports", path])
    assert result.exit_code == 0, result.output
    assert "Imported 2 rows: 1 new, 1 updated, 0 unchanged." in result.output
    assert count(app, Report) == 2
    entries = audit(app)
    assert {e.actor for e in entries} == {"command line (import-reports)"}
    assert {e.action for e in entries} == {"create", "update"}


def test_command_reads_a_semicolon_file(app, runner, tmp_path):
    make_hospital(app, reports=())
    path = write(tmp_path, semicolon_bytes([cells(report_date=day(1))]))
    result = runner.invoke(args=["import-reports", path])
    assert result.exit_code == 0, result.output
    assert "Imported 1 row: 1 new, 0 updated, 0 unchanged (read as semicolon-separated)." in (
        result.output
    )
    assert count(app, Report) == 1


def test_command_says_how_to_save_a_file_that_is_not_csv(app, runner, tmp_path):
    path = write(tmp_path, "\t".join(HEADER).encode())
    result = runner.invoke(args=["import-reports", path])
    assert result.exit_code == 1
    assert "save it as “CSV (comma delimited)”" in result.output
    assert count(app, Report) == 0


def test_command_keeps_its_old_name(app, runner, tmp_path):
    """Scripts written when it was called import-stats keep working."""
    make_hospital(app, reports=())
    path = write(tmp_path, csv_bytes([cells(report_date=day(2))]))
    result = runner.invoke(args=["import-stats", path])
    assert result.exit_code == 0, result.output
    assert "Imported 1 row: 1 new" in result.output
    assert count(app, Report) == 1


def test_command_refuses_an_archived_hospital_as_the_form_does(app, runner, tmp_path):
    """The policy decides for the command line too: the roles do not apply there, the
    archived hospital's closed reports do."""
    make_hospital(app, reports=(), is_active=False)
    path = write(tmp_path, csv_bytes([cells(report_date=day(2))]))
    result = runner.invoke(args=["import-reports", path])
    assert result.exit_code == 1
    assert "is archived, so its reports cannot be added, changed or deleted. Restore it" in (
        result.output
    )
    assert count(app, Report) == 0


def test_command_dry_run_writes_nothing(app, runner, tmp_path):
    make_hospital(app, reports=({"report_date": day(1)},))
    path = write(tmp_path, csv_bytes([cells(report_date=day(2)), cells(report_date=day(1))]))
    result = runner.invoke(args=["import-reports", path, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Dry run, nothing was saved: 2 rows would give 1 new, 0 updated, 1 unchanged." in (
        result.output
    )
    assert count(app, Report) == 1 and len(audit(app)) == 0


def test_command_lists_errors_and_fails(app, runner, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "BATCH_ROWS", 2)
    make_hospital(app, reports=())
    rows = [cells(report_date=day(n)) for n in range(1, 8)]
    rows[5] = cells(report_date=day(6), beds_occupied=201)
    rows.append(cells("NOPE-9", report_date=day(1)))
    result = runner.invoke(args=["import-reports", write(tmp_path, csv_bytes(rows))])
    assert result.exit_code == 1
    assert "line 7, beds_occupied: Occupied beds (201) cannot exceed total beds (200)." in (
        result.output
    )
    assert "line 9, hospital_code: No hospital has the code “NOPE-9”." in result.output
    assert "2 problems in" in result.output and "nothing was imported" in result.output
    assert count(app, Report) == 0 and len(audit(app)) == 0


def test_command_refuses_a_file_that_is_not_utf8(app, runner, tmp_path):
    path = write(tmp_path, ",".join(HEADER).encode("utf-16"))
    result = runner.invoke(args=["import-reports", path])
    assert result.exit_code == 1
    assert "line 1: This file is UTF-16 text, not UTF-8." in result.output
    assert "Traceback" not in result.output


def test_command_needs_an_existing_file(runner, tmp_path):
    result = runner.invoke(args=["import-reports", str(tmp_path / "missing.csv")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_the_report_form_still_reads_counts_the_same(app, client, csrf):
    """CountField now calls rules.parse_count: the form's messages are unchanged."""
    hospital_id = make_hospital(app, reports=())
    data = {
        "csrf_token": csrf,
        **{k: v for k, v in zip(HEADER[1:], cells(report_date=yesterday())[1:], strict=True)},
        "beds_total": "1,5",
    }
    response = client.post(f"/hospitals/{hospital_id}/reports/new", data=data)
    assert response.status_code == 422
    assert "Total beds must be a whole number from 0 to 100,000, not “1,5”." in page_text(response)
    data["beds_total"] = "1 200"
    assert client.post(f"/hospitals/{hospital_id}/reports/new", data=data).status_code == 303


# --- Unusual figures (issue 5): warnings, not errors ----------------------------------------


def steady_history(app, days: int = 10) -> int:
    """A hospital whose last `days` reports all admitted 30 patients: 85 is far from that."""
    return make_hospital(app, reports=tuple({"report_date": day(n)} for n in range(3, 3 + days)))


def test_unusual_figures_are_warnings_shown_by_the_dry_run(app, client, token):
    hospital_id = steady_history(app)
    data = csv_bytes(
        [cells(report_date=day(2), admissions=85), cells(report_date=day(1), admissions=31)]
    )
    with app.app_context():
        from hospital_app.outliers import report_warnings

        expected = report_warnings(hospital_id, day(2), report_values(admissions=85))
    assert expected and "Admissions (85) is far from this hospital's last 10 reports" in expected[0]

    response = upload(client, data, token, dry_run=True)
    assert response.status_code == 200
    text = page_text(response)
    assert "1 row with unusual figures" in text
    # Line 2 of the file, its hospital and date, and the form's own message.
    where = f"2 NRH-001 Northside Regional Hospital {shown(day(2))}"
    assert f"{where} {expected[0]}" in text
    assert "importing it would give 2 new" in text
    assert count(app, Report) == 10


def test_imported_unusual_rows_are_marked_for_follow_up(app, client, token):
    steady_history(app)
    data = csv_bytes(
        [cells(report_date=day(2), admissions=85), cells(report_date=day(1), admissions=31)]
    )
    response = upload(client, data, token)
    assert response.status_code == 303
    flashed = page_text(client.get(response.location))
    assert "Imported 2 rows: 2 new" in flashed
    assert "1 row had figures far from their hospital's recent history" in flashed
    with app.app_context():
        marked = dict(
            db.session.execute(
                select(Report.report_date, Report.outlier_note).where(
                    Report.outlier_confirmed.is_(True)
                )
            ).all()
        )
    assert list(marked) == [day(2)]
    assert marked[day(2)].startswith("Admissions (85) is far from")

    # Correcting the figures by a new import clears the mark, as the form does.
    upload(client, csv_bytes([cells(report_date=day(2), admissions=30)]), token)
    assert count(app, Report, Report.outlier_confirmed.is_(True)) == 0


def test_the_command_lists_unusual_figures(app, runner, tmp_path):
    steady_history(app)
    path = write(tmp_path, csv_bytes([cells(report_date=day(2), admissions=85)]))
    result = runner.invoke(args=["import-reports", path])
    assert result.exit_code == 0, result.output
    assert (
        f"line 2, NRH-001 (Northside Regional Hospital) on {shown(day(2))}: unusual: "
        "Admissions (85) is far from"
    ) in result.output
    assert "1 of them with unusual figures, marked for follow-up." in result.output
    assert count(app, Report, Report.outlier_confirmed.is_(True)) == 1


def colleague_saves_during_the_import(app, monkeypatch, hospital_id: int) -> None:
    """Between the importer's look-up of stored reports and its write, another worker saves
    a report (notes "theirs") for the hospital on day(2)."""
    from sqlalchemy import create_engine, insert

    with app.app_context():
        other_worker = create_engine(db.engine.url, poolclass=NullPool)
    original = importer._Importer._apply
    planted: list[bool] = []

    def meanwhile(self, report, row):
        if not planted:
            planted.append(True)
            plant()
        return original(self, report, row)

    def plant():
        with other_worker.begin() as conn:
            conn.execute(
                insert(Report.__table__).values(
                    hospital_id=hospital_id,
                    **report_values(report_date=day(2), notes="theirs"),
                    created_at=utcnow(),
                    updated_at=utcnow(),
                    version=1,
                )
            )

    monkeypatch.setattr(importer._Importer, "_apply", meanwhile)


def test_a_report_saved_by_someone_else_mid_import_is_a_message_not_a_500(worker, monkeypatch):
    """The unique constraint stops the import: nothing of the file is written, and the
    person is told what happened (409) instead of getting an error page."""
    make_user(worker, "admin", email=ADMIN_EMAIL)
    browser = signed_in_client(worker, ADMIN_EMAIL)
    hospital_id = make_hospital(worker, reports=())
    colleague_saves_during_the_import(worker, monkeypatch, hospital_id)
    data = csv_bytes([cells(report_date=day(3)), cells(report_date=day(2), notes="mine")])
    response = upload(browser, data, csrf_token(browser, "/reports/import"))
    assert response.status_code == 409
    assert "someone else saved reports for some of the same hospitals and dates" in (
        page_text(response)
    )
    assert reports(worker) == [("NRH-001", day(2), 150, "theirs")]
    assert len(audit(worker)) == 0
    monkeypatch.undo()
    assert browser.get("/reports/import").status_code == 200


@pytest.mark.writes_around_the_app  # the colleague's report is an INSERT of its own
def test_the_command_says_so_too(app, runner, tmp_path, monkeypatch):
    hospital_id = make_hospital(app, reports=())
    colleague_saves_during_the_import(app, monkeypatch, hospital_id)
    path = write(tmp_path, csv_bytes([cells(report_date=day(2), notes="mine")]))
    result = runner.invoke(args=["import-reports", path])
    assert result.exit_code == 1
    assert "someone else saved reports for some of the same hospitals and dates" in (result.output)
    assert reports(app) == [("NRH-001", day(2), 150, "theirs")]


@pytest.mark.parametrize("batch_rows", [1000, 5, 1])
def test_rows_of_one_file_are_each_others_history_however_it_is_batched(
    app, client, token, monkeypatch, batch_rows
):
    """A hospital's spreadsheet: ten steady days, then a spike. The spike is compared with the
    file's own earlier days, in the dry run as in the import, wherever the batches split."""
    monkeypatch.setattr(importer, "BATCH_ROWS", batch_rows)
    make_hospital(app, reports=())
    steady = [cells(report_date=day(n)) for n in range(12, 2, -1)]
    data = csv_bytes([*steady, cells(report_date=day(2), beds_occupied=60, icu_beds_occupied=5)])

    checked = upload(client, data, token, dry_run=True)
    assert "1 row with unusual figures" in page_text(checked)
    assert (
        f"12 NRH-001 Northside Regional Hospital {shown(day(2))} Occupied beds (60) is "
        "far from this hospital's last 10 reports"
    ) in page_text(checked)
    assert count(app, Report) == 0  # the dry run's writes were rolled back
    assert len(audit(app)) == 0

    assert upload(client, data, token).status_code == 303
    flagged = count(app, Report, Report.outlier_confirmed.is_(True))
    assert flagged == 1 and count(app, Report) == 11


def test_an_editor_may_bring_back_the_whole_export_unchanged(app, login_as, client):
    """The export holds every hospital's reports; re-importing it as it is changes nothing,
    so an editor's other hospitals and archived ones are not refused. A changed row for
    them still is."""
    mine = make_hospital(app, reports=({"report_date": day(1)},))
    make_hospital(app, code="SGH-002", name="Southgate General", reports=({"report_date": day(1)},))
    make_hospital(
        app, code="ARC-1", name="Archived", is_active=False, reports=({"report_date": day(1)},)
    )
    exported = client.get("/reports/export.csv").get_data()
    editor = login_as("editor", hospitals=(mine,))
    token = csrf_token(editor, "/reports/import")

    response = upload(editor, exported, token)
    assert response.status_code == 303
    assert "3 rows: 0 new, 0 updated, 3 unchanged" in page_text(editor.get(response.location))

    lines = exported.decode("utf-8-sig").splitlines()
    changed = [
        line if not line.startswith("SGH-002") else line.replace(",150,", ",151,", 1)
        for line in lines
    ]
    response = upload(editor, "\n".join(changed).encode(), token)
    assert response.status_code == 422
    assert "You can change reports only for the hospitals assigned to you" in (problems(response))
    assert count(app, Report, Report.beds_occupied == 151) == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            csv_bytes([cells()]).replace(b"\r\n", b"\r"),
            "This file's lines end with a carriage return alone (an old Mac format)",
        ),
        (
            csv_bytes([cells()] * 2000).replace(b"\r\n", b"\r"),  # over 64 kB on one "line"
            "This file's lines end with a carriage return alone (an old Mac format)",
        ),
    ],
    ids=["small", "large"],
)
def test_old_mac_line_ends_get_a_message_that_says_so(app, client, token, data, message):
    response = upload(client, data, token)
    assert response.status_code == 422
    assert message in problems(response)
    assert count(app, Report) == 0


def test_a_doubled_byte_order_mark_is_still_read(app, client, token):
    make_hospital(app, reports=())
    data = "\ufeff".encode() + csv_bytes([cells()], bom=True)
    response = upload(client, data, token)
    assert response.status_code == 303
    assert count(app, Report) == 1


def test_the_audit_entries_are_the_ones_the_session_writes(app, client, token, admin_id):
    """The import writes around the session; its entries must be the flush listener's: the
    same change made through the session, by the same person, for a twin hospital, gives the
    same entries. A signed-off report changed by an administrator is provisional again, and
    a closed day is marked, both ways."""
    signed = {"signed_off_by_id": admin_id, "signed_off_at": utcnow().replace(microsecond=0)}
    reports_of = ({"report_date": day(10), **signed},)
    imported = make_hospital(app, reports=reports_of)
    twin = make_hospital(app, reports=reports_of, code="SGH-002", name="Southgate General")
    data = csv_bytes([cells(report_date=day(10), beds_occupied=151), cells(report_date=day(9))])
    assert upload(client, data, token).status_code == 303

    with app.test_request_context():
        login_user(db.session.get(Account, admin_id))
        stored = db.session.scalars(select(Report).where(Report.hospital_id == twin)).one()
        stored.beds_occupied = 151
        db.session.add(Report(hospital_id=twin, **report_values(report_date=day(9))))
        db.session.commit()

    def entries(hospital_id: int) -> list[tuple]:
        found = [e for e in audit(app) if e.hospital_id == hospital_id]
        return [
            (
                e.action,
                e.record_label,
                e.actor,
                {k: v for k, v in e.changes.items() if k != "hospital_id"},
            )
            for e in sorted(found, key=lambda e: e.action)
        ]

    mine, theirs = entries(imported), entries(twin)
    assert [e[0] for e in mine] == ["create", "update"]
    assert mine == theirs
    update = mine[1][3]
    assert update["signed_off_at"][1] is None and update["closed_day"] == [None, True]
    changed = fetch(app, Report, next(e.record_id for e in audit(app) if e.action == "update"))
    assert (changed.version, changed.signed_off_at, changed.beds_occupied) == (2, None, 151)


def test_the_daily_sums_are_told_once_a_batch_what_was_replaced_and_written(
    app, client, token, monkeypatch
):
    """summary.record_reports hears, once per batch and on the import's connection, the
    stored values of the changed reports and the values written, new ones included (and
    keeps its sums: the spy passes every call on)."""
    from hospital_app import summary

    calls = []
    keep_the_sums = summary.record_reports

    def record_reports(connection, before=(), after=()):
        calls.append((connection.in_transaction(), list(before), list(after)))
        keep_the_sums(connection, before, after)

    monkeypatch.setattr(summary, "record_reports", record_reports)
    monkeypatch.setattr(importer, "BATCH_ROWS", 2)
    make_hospital(app, reports=({"report_date": day(3)},))
    data = csv_bytes(
        [
            cells(report_date=day(3), beds_occupied=151),
            cells(report_date=day(2)),
            cells(report_date=day(1), notes="third"),
        ]
    )
    assert upload(client, data, token).status_code == 303
    assert [(len(before), len(after)) for _, before, after in calls] == [(1, 2), (0, 1)]
    assert all(in_transaction for in_transaction, _, _ in calls)
    (_, [before], [changed, new]), (_, _, [third]) = calls
    assert (before["beds_occupied"], before["version"]) == (150, 1)
    assert (changed["beds_occupied"], changed["version"]) == (151, 2)
    assert changed["id"] == before["id"] and changed["on_time"] == before["on_time"]
    assert (new["report_date"], new["id"] is not None, new["signed_off_at"]) == (day(2), True, None)
    assert third["notes"] == "third" and isinstance(third["on_time"], bool)
