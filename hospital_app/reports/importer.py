"""The CSV import of reports, shared by the upload page and `flask import-reports`.

The file is read as a stream, line by line: each line is decoded here (so a byte that is not
UTF-8 is reported with its line number), every row is checked with the rules the report form
uses (rules.py), and the rows are written in batches of BATCH_ROWS with core bulk statements
on the session's connection, not one ORM object each: what the session's events do for a
report (the audit trail, on_time, a signed-off report made provisional again, the version
check) is done here for the batch, with the same results: the audit entries are made by
audit/trail.py (write_report_entries), identical to the flush listener's. Whether a row may
add or change its hospital's report of its day is the policy's answer (policy.py), as for the
form: a closed day is refused to editors row by row, with the closing rule.

Each batch costs a fixed number of statements whatever its size: one SELECT of the hospitals
not seen before, one SELECT of the reports already stored for the batch's (hospital, date)
pairs, one INSERT (executemany) of the new ones and one SELECT of their ids, one UPDATE
(executemany, by id and version) of the changed ones, the query for unusual figures
(outliers.py, per 400 rows), one UPDATE of the marks that changes, one INSERT of the audit
entries, summary.record_reports, and a flush of the follow-ups of unusual rows (few).

All or nothing: once a row is found bad, nothing more is written and the rest of the file is
only checked, so that every bad row is listed. The importer writes but never commits; its
caller commits when the result is ok (and not a dry run), and rolls back otherwise.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import functools
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import chain
from typing import BinaryIO

from sqlalchemy import (
    Date,
    Integer,
    and_,
    bindparam,
    func,
    insert,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from .. import cycle, policy, rules, summary
from ..audit import trail
from ..csvfiles import restore
from ..extensions import db
from ..models import FollowUp, Hospital, Report, utcnow
from ..outliers import ReportRow, batch_warnings, outlier_note
from ..review import signoff

# The reports CSV format: what the reports export writes and the import reads, so that an
# export imports back unchanged.
COLUMNS = ["hospital_code", "report_date", *rules.COUNT_FIELDS, "notes"]
OPTIONAL_COLUMNS = {"notes"}
HEADER_LINE = ",".join(COLUMNS)
# Rows per batch: big enough that the statements per row are few, small enough that a batch's
# objects take little memory.
BATCH_ROWS = 1000
# Errors kept to show; beyond these only the total is counted.
MAX_ERRORS = 1000
# A row of this file is well under 20 kB even with 2,000 characters of notes; a longer line
# is not a report (and must not fill the memory).
MAX_LINE_BYTES = 64 * 1024
# Someone saved a report for one of the file's hospitals and dates between this import's
# look-up and its write (the unique constraint or a version check said so).
CLASH_MESSAGE = (
    "While this file was being imported, someone else saved reports for some of the same "
    "hospitals and dates, so nothing was imported. Import the file again: what they saved "
    "is then compared with your rows like any stored report."
)
CLASH_ERRORS = (IntegrityError, StaleDataError)
SAVE_AS_UTF8 = "Save the file as “CSV UTF-8” in your spreadsheet program and import it again."
SAVE_AS_CSV = (
    "In your spreadsheet program, save it as “CSV (comma delimited)” (or “CSV UTF-8”) and "
    "import it again."
)
# What separates the cells: a comma, or a semicolon where a spreadsheet program uses the comma
# as its decimal mark (Excel in most of Europe saves "CSV" so).
DELIMITERS = {",": "comma", ";": "semicolon"}
# A header with more columns than this is not a reports file (it has len(COLUMNS)): it is
# refused with one message, before any per-column check.
MAX_HEADER_COLUMNS = 100


@dataclass(frozen=True)
class RowError:
    line: int
    column: str  # "" when the problem is the whole line or file
    message: str


@dataclass(frozen=True)
class RowWarning:
    """An unusual figure of a row: imported all the same, marked for follow-up."""

    line: int
    hospital_code: str
    hospital_name: str
    report_date: date
    message: str


@dataclass
class ImportResult:
    dry_run: bool
    delimiter: str = ","  # as the header line showed (DELIMITERS)
    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    # Unusual figures (outliers.py): imported all the same, marked for follow-up.
    warnings: list[RowWarning] = field(default_factory=list)
    warning_count: int = 0
    unusual_rows: int = 0

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def rows_text(self) -> str:
        """The file's rows, for a sentence: 1 row, 2,000 rows."""
        return f"{self.rows:,} row{'s' if self.rows != 1 else ''}"

    @property
    def delimiter_name(self) -> str:
        return DELIMITERS[self.delimiter]

    @property
    def more_errors(self) -> int:
        """Errors counted but not kept in `errors`."""
        return self.error_count - len(self.errors)

    def add_error(self, line: int, column: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(line, column, message))

    @property
    def more_warnings(self) -> int:
        return self.warning_count - len(self.warnings)

    def add_warnings(
        self, line: int, code: str, name: str, report_date: date, messages: list[str]
    ) -> None:
        self.unusual_rows += 1
        for message in messages:
            self.warning_count += 1
            if len(self.warnings) < MAX_ERRORS:
                self.warnings.append(RowWarning(line, code, name, report_date, message))


class FileProblem(Exception):
    """The file cannot be read any further (not UTF-8 text, not CSV)."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


class _Lines:
    """The stream's lines, decoded one at a time, for csv.reader; `number` is the count of
    physical lines read so far."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.number = 0

    def __iter__(self) -> Iterator[str]:
        while raw := self.stream.readline(MAX_LINE_BYTES + 1):
            self.number += 1
            n = self.number
            if n == 1:
                if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                    raise FileProblem(1, f"This file is UTF-16 text, not UTF-8. {SAVE_AS_UTF8}")
                while raw.startswith(codecs.BOM_UTF8):  # a BOM saved twice is still one
                    raw = raw.removeprefix(codecs.BOM_UTF8)
                if b"\r" in raw.rstrip(b"\r\n"):
                    # The header holds no quoted text: a carriage return inside it ends lines.
                    raise FileProblem(
                        1,
                        "This file's lines end with a carriage return alone (an old Mac "
                        f"format), so its lines cannot be told apart. {SAVE_AS_UTF8}",
                    )
            if len(raw) > MAX_LINE_BYTES:
                raise FileProblem(
                    n,
                    f"Line {n:,} is longer than {MAX_LINE_BYTES // 1024} kB: this is not a "
                    "reports CSV file.",
                )
            if b"\0" in raw:
                raise FileProblem(
                    n,
                    f"Line {n:,} holds a NUL byte: this looks like a binary file (a spreadsheet "
                    f"workbook?), not CSV text. {SAVE_AS_UTF8}",
                )
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as error:
                position = len(raw[: error.start].decode("utf-8", "replace")) + 1
                raise FileProblem(
                    n,
                    f"Line {n:,} is not UTF-8 text (byte 0x{raw[error.start]:02X} at character "
                    f"{position}). {SAVE_AS_UTF8}",
                ) from None


@dataclass(frozen=True)
class _Known:
    """A hospital of the file, as the import needs it."""

    id: int
    code: str
    name: str
    refusal: str | None  # for every day of this hospital (not theirs, archived)
    record: Hospital  # asked of the policy again with each row's day


@dataclass
class _Row:
    line: int
    hospital: _Known
    report_date: date
    counts: dict[str, int]
    notes: str | None

    @property
    def hospital_id(self) -> int:
        return self.hospital.id


def _plural(items: list) -> str:
    return "s" if len(items) != 1 else ""


def _listed(items: list[str]) -> str:
    """a, a and b, a, b and c: items as a sentence lists them."""
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _quoted(names: list[str]) -> str:
    """“a”, “a” and “b”, “a”, “b” and “c”: column names as a sentence quotes them."""
    return _listed([f"“{name}”" for name in names])


def _incomplete_message(line: int, empty: list[str]) -> str:
    return (
        f"Line {line:,} is not filled in: {_quoted(empty)} "
        f"{'are' if len(empty) != 1 else 'is'} empty. Enter the day's figures (0 when there "
        "are none), or delete the line if that hospital has nothing to report for the day."
    )


class _Importer:
    def __init__(self, result: ImportResult, actor, columns: dict[str, int], delimiter: str = ","):
        self.result = result
        self.actor = actor  # who imports: the signed-in person, or policy.COMMAND_LINE
        self.columns = columns
        self.delimiter = delimiter
        self.width = len(columns)
        self.has_notes = "notes" in columns
        self.hospitals: dict[str, _Known | None] = {}  # code → hospital (None: no such code)
        self.seen: dict[tuple[int, date], int] = {}  # (hospital, date) → first line

    # --- checking ---------------------------------------------------------------------------

    def _look_up_hospitals(self, codes: set[str]) -> None:
        """One SELECT for the codes not seen before."""
        wanted = {c for c in codes if c not in self.hospitals and not rules.code_errors(c)}
        for code in codes - wanted:
            self.hospitals.setdefault(code, None)
        if not wanted:
            return
        for hospital in db.session.scalars(select(Hospital).where(Hospital.code.in_(wanted))):
            refusal = policy.refusal(self.actor, "report.write", hospital)
            reason = refusal.reason if refusal is not None else None
            self.hospitals[hospital.code] = _Known(
                hospital.id, hospital.code, hospital.name, reason, hospital
            )
            wanted.discard(hospital.code)
        for code in wanted:
            self.hospitals[code] = None

    def _check(self, line: int, cells: list[str]) -> _Row | None:
        """The row's values, or None when it breaks a rule (its errors are recorded)."""
        if len(cells) > self.width:
            self.result.add_error(
                line,
                "",
                f"This line has {len(cells)} cells but the header has {self.width}. A value "
                f"holding a {DELIMITERS[self.delimiter]} must be in double quotes.",
            )
            return None

        def cell(name: str) -> str:
            index = self.columns.get(name)
            return cells[index] if index is not None and index < len(cells) else ""

        # The characters no text may hold (the forms' rule): such a row is checked no further.
        # Asked of the whole line first (a comma is no such character): cell by cell only
        # when the line holds one.
        errors: list[tuple[str, str]] = []
        if rules.text_errors(",".join(cells), "This line"):
            errors = [
                (name, message)
                for name in self.columns
                for message in rules.text_errors(cell(name), "This cell")
            ]
        if errors:
            for name, message in errors:
                self.result.add_error(line, name, message)
            return None
        code = rules.normalise_code(restore(cell("hospital_code")))
        hospital = self.hospitals.get(code)
        if not code:
            errors.append(("hospital_code", rules.CODE_REQUIRED_MESSAGE))
        elif hospital is None:
            errors.append(("hospital_code", rules.unknown_code_message(code)))
        # hospital.refusal (not theirs, archived) is checked in batch(): a row identical to
        # the stored report changes nothing, so anyone may bring it back in an export.

        report_date = None
        text = cell("report_date")
        if _ISO_DATE.fullmatch(text):
            # The usual spelling, read without strptime; anything else as the form reads it.
            with contextlib.suppress(ValueError):
                report_date = date(int(text[:4]), int(text[5:7]), int(text[8:]))
        if report_date is not None and not rules.date_range_errors(report_date):
            if not rules.EARLIEST_REPORT_DATE <= report_date <= self.today:
                errors += [("report_date", m) for m in rules.report_date_errors(report_date)]
        else:
            report_date = None
            try:
                report_date = rules.parse_report_date(restore(text))
            except ValueError as error:
                errors.append(("report_date", str(error)))
            else:
                if report_date is None:
                    errors.append(("report_date", rules.REPORT_DATE_REQUIRED_MESSAGE))
                errors += [("report_date", m) for m in rules.report_date_errors(report_date)]

        counts: dict[str, int | None] = {}
        unreadable = set()
        for name in rules.COUNT_FIELDS:
            text = cell(name)
            if text.isascii() and text.isdigit() and len(text) <= rules.WHOLE_NUMBER_DIGITS:
                counts[name] = int(text)  # what parse_count makes of plain digits, quickly
                continue
            try:
                counts[name] = rules.parse_count(text, name)
            except ValueError as error:
                counts[name] = None
                unreadable.add(name)
                errors.append((name, str(error)))
        empty = [n for n in rules.COUNT_FIELDS if counts[n] is None and n not in unreadable]
        if all(name in empty for name in rules.DAY_FIGURES):
            # A line not filled in yet (the prefilled template's rows start so): one message
            # for the line rather than one per empty cell.
            errors.append(("", _incomplete_message(line, empty)))
        else:
            errors += [(name, rules.COUNT_REQUIRED_MESSAGE) for name in empty]
        for name, messages in rules.report_errors(counts).items():
            errors += [(name, m) for m in messages]

        notes = rules.strip_or_none(restore(cell("notes")))
        errors += [("notes", m) for m in rules.notes_errors(notes)]

        if hospital is not None and report_date is not None:
            key = (hospital.id, report_date)
            first = self.seen.setdefault(key, line)
            if first != line:
                errors.append(
                    (
                        "report_date",
                        f"Line {first:,} is already for {hospital.code} on "
                        f"{rules.day_text(report_date)}: a hospital and date may appear only once.",
                    )
                )

        if errors:
            order = {name: i for i, name in enumerate(["", *COLUMNS])}
            for name, message in sorted(errors, key=lambda e: order[e[0]]):
                self.result.add_error(line, name, message)
            return None
        return _Row(line, hospital, report_date, counts, notes)

    # --- writing ----------------------------------------------------------------------------

    def _same(self, stored: Mapping, row: _Row) -> bool:
        if any(stored[name] != value for name, value in row.counts.items()):
            return False
        return not self.has_notes or stored["notes"] == row.notes

    def _apply(self, values: dict, row: _Row) -> None:
        """The row's figures (and notes) into the values to write."""
        values.update(row.counts)
        # A file without a notes column leaves the stored notes as they are.
        if self.has_notes:
            values["notes"] = row.notes

    def batch(self, records: list[tuple[int, list[str]]]) -> None:
        # A date after this one is in the future (rules.report_date_errors says so).
        self.today = rules.today()
        codes = {rules.normalise_code(restore(self._code_cell(cells))) for _, cells in records}
        self._look_up_hospitals(codes)
        rows = [row for line, cells in records if (row := self._check(line, cells))]
        if not rows:
            return
        connection = db.session.connection()
        pairs = [(row.hospital_id, row.report_date) for row in rows]
        stored = {
            (found["hospital_id"], found["report_date"]): found
            for found in connection.execute(*_at(connection, [REPORTS], pairs)).mappings()
        }
        changing: list[tuple[_Row, Mapping | None]] = []
        for row in rows:
            old = stored.get((row.hospital_id, row.report_date))
            if old is not None and self._same(old, row):
                self.result.unchanged += 1
            elif row.hospital.refusal:
                self.result.add_error(row.line, "hospital_code", row.hospital.refusal)
            elif closed := self._day_refusal(row):
                self.result.add_error(row.line, "report_date", closed)
            else:
                changing.append((row, old))
        if not self.result.ok or not changing:
            return  # nothing will be written: the rest of the file is only checked
        self._write(connection, changing)

    def _write(self, connection, changing: list[tuple[_Row, Mapping | None]]) -> None:
        """The batch's new and changed reports, in a fixed number of statements: one INSERT
        (executemany), one SELECT of the new ids, one UPDATE (executemany, by id and version),
        the check of unusual figures, one UPDATE of the marks it changes, one INSERT of the
        audit entries, and the follow-ups of the unusual rows through the session."""
        now = utcnow()
        first_saved = cycle.clock()
        settings = cycle.settings(connection)
        # By day: the deadline is the same for every hospital.
        on_time = {
            day: cycle.is_on_time(day, first_saved, settings)
            for day in {row.report_date for row, old in changing if old is None}
        }
        # (row, stored values or None, values written), in the file's order.
        written: list[tuple[_Row, Mapping | None, dict]] = []
        for row, old in changing:
            if old is None:
                # The marks are set after the check of unusual figures below; on_time as
                # cycle.py classes every insert, by the settings of this moment.
                values = {
                    **NEW_REPORT,
                    "hospital_id": row.hospital_id,
                    "report_date": row.report_date,
                    "on_time": on_time[row.report_date],
                    "created_at": now,
                    "updated_at": now,
                }
                self._apply(values, row)
            else:
                values = dict(old)
                self._apply(values, row)
                _provisional_again(old, values)
                values["updated_at"] = now
                values["version"] = old["version"] + 1
            written.append((row, old, values))
        new = [values for _, old, values in written if old is None]
        changed = [(old, values) for _, old, values in written if old is not None]
        self.result.new += len(new)
        self.result.updated += len(changed)
        if new:
            connection.execute(insert(REPORTS), new)
            _fill_ids(connection, new)
        _update(connection, changed)
        # Written before the check of unusual figures, dry runs too (their caller rolls
        # back): each row is then compared with every report dated before it, this file's
        # earlier rows included, wherever the batches happen to split.
        warnings = batch_warnings(
            [
                ReportRow(row.hospital_id, row.report_date, row.counts, values["id"])
                for row, _, values in written
            ]
        )
        marked: list[tuple[Mapping, dict]] = []
        for (row, _, values), found in zip(written, warnings, strict=True):
            if found:
                self.result.add_warnings(
                    row.line, row.hospital.code, row.hospital.name, row.report_date, found
                )
            # Importing them is the confirmation the form asks for: they are listed on the
            # dashboard for follow-up, as the form's confirmed ones are. As the session did
            # (a second flush), a mark that changes is a second UPDATE and a second entry.
            confirmed, note = bool(found), outlier_note(found)
            if (values["outlier_confirmed"], values["outlier_note"]) != (confirmed, note):
                again = {**values, "outlier_confirmed": confirmed, "outlier_note": note}
                _provisional_again(values, again)
                again["version"] = values["version"] + 1
                again["updated_at"] = utcnow()
                marked.append((values, again))
        if self.result.dry_run:
            # Rolled back by the caller: the marks, the audit trail, the follow-ups and the
            # daily sums change nothing the dry run shows.
            return
        _update(connection, marked)
        final = {id(before): after for before, after in marked}
        summary.record_reports(
            connection,
            before=[old for _, old, _ in written if old is not None],
            after=[final.get(id(values), values) for _, _, values in written],
        )
        trail.write_report_entries(connection, created=new, changed=[*changed, *marked])
        self._follow_ups(
            [
                (values["id"], found, old is not None)
                for (_, old, values), found in zip(written, warnings, strict=True)
            ]
        )

    def _follow_ups(self, rows: list[tuple[int, list, bool]]) -> None:
        """The follow-up rows (followup/) of the written reports: opened for the unusual ones,
        with no reason (the import asks none), removed for those usual again. One query, for
        the stored reports among them only (a new report has none); through the session, so
        the flush listener audits them (they are few: unusual rows only)."""
        stored_ids = [report_id for report_id, _found, was_stored in rows if was_stored]
        existing = {}
        if stored_ids:
            existing = {
                f.report_id: f
                for f in db.session.scalars(
                    select(FollowUp).where(FollowUp.report_id.in_(stored_ids))
                )
            }
        touched = []
        for report_id, found, _was_stored in rows:
            follow_up = existing.get(report_id)
            if not found:
                if follow_up is not None:
                    db.session.delete(follow_up)
                continue
            if follow_up is None:
                follow_up = FollowUp(report_id=report_id)
                db.session.add(follow_up)
            follow_up.fields = ",".join(dict.fromkeys(n for w in found for n in w.fields))
            follow_up.reason = follow_up.note = None
            follow_up.confirmed_by_id = getattr(self.actor, "id", None)
            follow_up.confirmed_at = utcnow()
            follow_up.status = "open"
            follow_up.reviewer_id = follow_up.comment = follow_up.checked_at = None
            touched.append(follow_up)
        db.session.flush()
        self._forget([*existing.values(), *touched])

    def _day_refusal(self, row: _Row) -> str | None:
        """A closed day, for an editor (the policy reads the settings and the hospital's
        exceptions once per request, not per row)."""
        refusal = policy.refusal(
            self.actor, "report.write", row.hospital.record, day=row.report_date
        )
        return refusal.reason if refusal is not None else None

    @staticmethod
    def _forget(objects) -> None:
        """Keep the session (and the memory) as small as one batch."""
        session = db.session
        for obj in objects:
            if obj in session:
                session.expunge(obj)

    def _code_cell(self, cells: list[str]) -> str:
        index = self.columns["hospital_code"]
        return cells[index] if index < len(cells) else ""


# The columns of a report, as the bulk statements write them.
REPORTS = Report.__table__
# A report's hospital and day, for the look-ups by them.
_AT = tuple_(REPORTS.c.hospital_id, REPORTS.c.report_date)
# SQLite reads "(hospital_id, report_date) IN (…)" by scanning the whole index, once per
# batch, so the import slowed with every report stored: there the batch's pairs are a JSON
# array joined to the table, one index search each.
_KEYS = func.json_each(bindparam("keys")).table_valued("value").alias("keys")
_KEYS_JOIN = and_(
    REPORTS.c.hospital_id == func.json_extract(_KEYS.c.value, "$[0]"),
    REPORTS.c.report_date == func.json_extract(_KEYS.c.value, "$[1]"),
)


def _at(connection, columns: list, pairs: list[tuple[int, date]]) -> tuple:
    """(statement, parameters) selecting `columns` of the reports of these (hospital, day)
    pairs, in a way the database answers with one index search a pair."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        keys = json.dumps([[hospital_id, day.isoformat()] for hospital_id, day in pairs])
        statement = select(*columns).select_from(_KEYS.join(REPORTS, _KEYS_JOIN))
        return statement, {"keys": keys}
    if dialect in ("mysql", "mariadb"):
        parameters = {}
        for i, (hospital_id, day) in enumerate(pairs):
            parameters[f"h{i}"], parameters[f"d{i}"] = hospital_id, day
        return select(*columns).select_from(_pairs_join(len(pairs))), parameters
    return select(*columns).where(_AT.in_(pairs)), {}


@functools.lru_cache(maxsize=4)
def _pairs_join(size: int):
    """MariaDB takes a long row-value IN list (a batch's thousand pairs) half a second to
    plan: there the pairs are a derived table of bound values, joined to the unique index.
    Built once per batch size."""
    keys = union_all(
        *(
            select(
                bindparam(f"h{i}", type_=Integer).label("hospital_id"),
                bindparam(f"d{i}", type_=Date).label("report_date"),
            )
            for i in range(size)
        )
    ).subquery("batch_keys")
    return keys.join(
        REPORTS,
        and_(
            REPORTS.c.hospital_id == keys.c.hospital_id,
            REPORTS.c.report_date == keys.c.report_date,
        ),
    )


# A new report's columns that no row of the file sets (the models' defaults).
NEW_REPORT = {
    "notes": None,
    "outlier_confirmed": False,
    "outlier_note": None,
    "signed_off_by_id": None,
    "signed_off_at": None,
    "reopen_reason": None,
    "version": 1,
}
# What an UPDATE by the import writes: every column it may change (the same for every row,
# so that one executemany statement serves the batch).
UPDATED_COLUMNS = (
    *rules.COUNT_FIELDS,
    "notes",
    "outlier_confirmed",
    "outlier_note",
    "signed_off_by_id",
    "signed_off_at",
    "updated_at",
    "version",
)
_UPDATE = (
    update(REPORTS)
    .where(REPORTS.c.id == bindparam("old_id"), REPORTS.c.version == bindparam("old_version"))
    .values({name: bindparam(name) for name in UPDATED_COLUMNS})
)


def _update(connection, changes: list[tuple[Mapping, dict]]) -> None:
    """One UPDATE (executemany) of (stored values, values to write) pairs, each by its id and
    the version read, as the ORM's version check: a report someone else changed since it was
    read matches no row, and the whole import is then a clash (StaleDataError)."""
    if not changes:
        return
    parameters = [
        {
            "old_id": old["id"],
            "old_version": old["version"],
            **{name: values[name] for name in UPDATED_COLUMNS},
        }
        for old, values in changes
    ]
    matched = connection.execute(_UPDATE, parameters).rowcount
    if matched != len(parameters):
        raise StaleDataError(
            f"The import updated {matched} of {len(parameters)} reports: the others were "
            "changed by someone else since they were read."
        )


def _fill_ids(connection, new: list[dict]) -> None:
    """The ids the database gave the new reports, by their (hospital, date): one SELECT
    (SQLite cannot say which id went to which row of an executemany INSERT)."""
    pairs = [(values["hospital_id"], values["report_date"]) for values in new]
    ids = {
        (found.hospital_id, found.report_date): found.id
        for found in connection.execute(
            *_at(connection, [REPORTS.c.id, REPORTS.c.hospital_id, REPORTS.c.report_date], pairs)
        )
    }
    for values, pair in zip(new, pairs, strict=True):
        values["id"] = ids[pair]


def _provisional_again(old: Mapping, values: dict) -> None:
    """A change to what a sign-off vouches for makes a signed-off report provisional again,
    as review/signoff.py does for the session's writes (only an administrator gets here:
    the policy refuses editors a signed-off report)."""
    if old["signed_off_at"] is None or values["signed_off_at"] != old["signed_off_at"]:
        return
    if any(values[name] != old[name] for name in signoff.SIGNED_FIELDS):
        values["signed_off_by_id"] = None
        values["signed_off_at"] = None


def _header_names(line: str, delimiter: str) -> list[str]:
    try:
        cells = next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:  # an unclosed quote: not a header this delimiter reads
        return []
    return [cell.strip().lower() for cell in cells]


def _delimiter(line: str) -> str | None:
    """The delimiter the header line `line` is written with: the one that splits it into
    more of our column names; None when neither splits it at all (tabs, a spreadsheet's own
    format): that file is not CSV."""
    split = {d: _header_names(line, d) for d in DELIMITERS}
    known = {d: sum(name in COLUMNS for name in names) for d, names in split.items()}
    if known[";"] > known[","]:
        return ";"
    if known[","] == 0 and all(len(names) < 2 for names in split.values()):
        return None
    return ","


def _blank(line: str) -> bool:
    """A blank line, or a spreadsheet's empty row (nothing but separators)."""
    return not line.strip(" \t\r\n" + "".join(DELIMITERS))


# A date as the export writes it (year-month-day, zero-padded).
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SPELLING = re.compile(r"[\s\-.]+")


def _read_header(cells: list[str], line: int, result: ImportResult) -> dict[str, int] | None:
    """{column: index}, or None when the header is wrong (its errors are recorded)."""
    if len(cells) > MAX_HEADER_COLUMNS:
        result.add_error(
            line,
            "",
            f"The header has {len(cells):,} columns; a reports file has {len(COLUMNS)}, so "
            f"this is not one. The first line must name these columns, in any order: "
            f"{HEADER_LINE} (notes may be left out).",
        )
        return None
    names = [cell.strip().lower() for cell in cells]
    problems = []
    unnamed = [i + 1 for i, n in enumerate(names) if not n]
    if unnamed:
        numbers = _listed([str(i) for i in unnamed])
        problems.append(
            f"Column {numbers} of the header has no name."
            if len(unnamed) == 1
            else f"Columns {numbers} of the header have no name."
        )
    # Counted once (not names.count() per name, which grows with the square of the width).
    doubled = sorted(n for n, times in Counter(names).items() if n and times > 1)
    if doubled:
        problems.append(
            f"The column{_plural(doubled)} {_quoted(doubled)} "
            f"{'appears' if len(doubled) == 1 else 'each appear'} more than once in the header."
        )
    missing = [c for c in COLUMNS if c not in names and c not in OPTIONAL_COLUMNS]
    if missing:
        problems.append(f"The header lacks the column{_plural(missing)} {_quoted(missing)}.")
    unknown = [n for n in dict.fromkeys(names) if n and n not in COLUMNS]
    if unknown:
        what = "a column" if len(unknown) == 1 else f"{len(unknown)} columns"
        problems.append(
            f"The header has {what} this import does not know: "
            f"{_quoted([rules.clip(n) for n in unknown])}."
        )
        # "hospital code" for hospital_code: say how to write it.
        for name in unknown:
            meant = _SPELLING.sub("_", name)
            if meant != name and meant in COLUMNS:
                problems.append(f"Write “{rules.clip(name)}” as “{meant}”.")
    if problems:
        problems[-1] += (
            f" The first line must name these columns, in any order: {HEADER_LINE} "
            "(notes may be left out)."
        )
        for problem in problems:
            result.add_error(line, "", problem)
        return None
    return {name: i for i, name in enumerate(names)}


def import_reports(stream: BinaryIO, actor, dry_run: bool = False) -> ImportResult:
    """Check and import the CSV file `stream` (binary, read line by line) for `actor` (the
    signed-in person, or policy.COMMAND_LINE). New rows and changed ones are written
    (flushed, not committed) unless `dry_run` or a row is bad. The cells are separated by
    commas or by semicolons, as the header line shows (`result.delimiter`)."""
    result = ImportResult(dry_run=dry_run)
    lines = _Lines(stream)
    source = iter(lines)
    try:
        first = next(source, None)
        while first is not None and _blank(first):
            first = next(source, None)  # blank lines before the header
        if first is None:
            result.add_error(
                1, "", f"The file is empty. Its first line must be the header: {HEADER_LINE}"
            )
            return result
        delimiter = _delimiter(first)
        if delimiter is None:
            n = lines.number
            result.add_error(
                n,
                "",
                f"Line {n:,}, the header, has neither commas nor semicolons between its "
                f"columns, so this file cannot be read as CSV. {SAVE_AS_CSV}",
            )
            return result
        result.delimiter = delimiter
        reader = csv.reader(chain([first], source), delimiter=delimiter)
        header = next(reader)
        columns = _read_header(header, lines.number, result)
        if columns is None:
            return result
        importer = _Importer(result, actor, columns, delimiter)
        records: list[tuple[int, list[str]]] = []
        while True:
            line = lines.number + 1  # where the next record starts
            cells = next(reader, None)
            if cells is None:
                break
            if not any(cell.strip() for cell in cells):
                continue  # a blank line, or a spreadsheet's empty row
            result.rows += 1
            records.append((line, cells))
            if len(records) == BATCH_ROWS:
                importer.batch(records)
                records = []
        if records:
            importer.batch(records)
    except FileProblem as problem:
        result.add_error(problem.line, "", problem.message)
        return result
    except csv.Error as error:
        result.add_error(lines.number, "", f"Line {lines.number:,} cannot be read as CSV: {error}.")
        return result
    if result.rows == 0 and result.ok:
        result.add_error(
            lines.number + 1, "", "The file has the header line but no rows: nothing to import."
        )
    return result


def template_csv(rows: Iterable[Sequence] = ()) -> str:
    """The header line, and `rows` (cells in COLUMNS' order, already neutralised), for people
    to fill in: UTF-8 with a BOM and CRLF line ends, as the exports."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue()
