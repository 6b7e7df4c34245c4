"""The daily sums of the reports per region (models.RegionDay), kept beside the reports in the
same transaction as every change to them, so nothing that reads them (the dashboard's trends,
the reports list's counts) has to add up every report of a year again.

Only differences are written: a saved report adds its figures to its (day, region, active)
row and takes away what it held before; archiving a hospital, restoring it or moving it to
another region moves the sums of all its reports from one row to another. Each difference is
an UPSERT that adds to the stored sums (`reports = reports + :reports`), never a value read
and written back, so two transactions saving reports of the same region and day at once
both count: the database orders the two additions on the row.

When they are written: the differences of a transaction are gathered in the session (each
flush adds its own, see the listeners below) and written once, as the session commits, in
the order of their keys. The summary rows are so the last rows a transaction locks, held for
the commit alone and always taken in the same order: two transactions cannot each hold a
summary row the other is waiting for (a deadlock), and a rolled-back transaction (a failed
form, a dry run of the import) writes nothing here because it never reaches the commit.

Who tells it: the ORM's flushes are read by the listeners (every form, the grid, restore,
revert, sign-off); writes that go around the session (the import's bulk statements,
seed-demo) call record_reports() with what they replaced and what they wrote.
`flask check-integrity` compares the rows with the sums computed from the reports.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta

from sqlalchemy import case, event, func, inspect, select
from sqlalchemy.orm import Session

from . import rules
from .extensions import db
from .models import Hospital, HospitalWeek, RegionDay, Report

# What a report adds to its region's row of the day: itself, whether it was on time and
# signed off, its census.
SUMS = ("reports", "on_time", "signed_off", *rules.CENSUS_FIELDS)
KEY = ("report_date", "region", "active")
# What it adds to its hospital's row of the week (the week's Monday).
WEEK_SUMS = ("reports", "on_time")
WEEK_KEY = ("hospital_id", "week")
# The report's columns its contributions are read from.
REPORT_COLUMNS = ("hospital_id", "report_date", "on_time", "signed_off_at", *rules.CENSUS_FIELDS)
# In Session.info: {key: [difference per SUMS]} and {key: [difference per WEEK_SUMS]}.
PENDING, PENDING_WEEKS = "region_day_differences", "hospital_week_differences"
BEFORE = "region_day_reports"  # in Session.info during a flush: the reports it changes

Key = tuple[date, str, bool]


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _pending(session: Session, name: str = PENDING, width: int = len(SUMS)) -> defaultdict:
    return session.info.setdefault(name, defaultdict(lambda: [0] * width))


def _add(session: Session, key: Key, figures: Sequence[int], sign: int) -> None:
    sums = _pending(session)[key]
    for i, value in enumerate(figures):
        sums[i] += sign * value


def _account(session: Session, rows: Iterable[Mapping], sign: int, places: dict) -> None:
    """Add (sign 1) or take away (-1) each report of `rows` to its region's day and to its
    hospital's week. Lean: the import passes 100,000 rows through here."""
    days = _pending(session)
    weeks = _pending(session, PENDING_WEEKS, len(WEEK_SUMS))
    census = rules.CENSUS_FIELDS
    for row in rows:
        hospital_id, day, on_time = (
            row["hospital_id"],
            row["report_date"],
            1 if row["on_time"] else 0,
        )
        region, active = places[hospital_id]
        sums = days[(day, region, active)]
        sums[0] += sign
        sums[1] += sign * on_time
        if row.get("signed_off_at") is not None:
            sums[2] += sign
        for i, name in enumerate(census, 3):
            sums[i] += sign * row[name]
        week = weeks[(hospital_id, monday(day))]
        week[0] += sign
        week[1] += sign * on_time


def _places(session: Session, hospital_ids: Iterable[int]) -> dict[int, tuple[str, bool]]:
    """(region, active) of each hospital as this transaction sees it now: the session's own
    objects first (a hospital being created or changed in it), the rest in one query."""
    wanted = set(hospital_ids)
    places = {}
    for obj in (*session.new, *session.identity_map.values()):
        if isinstance(obj, Hospital) and obj.id in wanted:
            places[obj.id] = (obj.region, bool(obj.is_active))
    missing = wanted - places.keys()
    if missing:
        rows = session.connection().execute(
            select(Hospital.id, Hospital.region, Hospital.is_active).where(
                Hospital.id.in_(sorted(missing))
            )
        )
        places.update((id_, (region, bool(active))) for id_, region, active in rows)
    return places


def record_reports(
    connection, before: Sequence[Mapping] = (), after: Sequence[Mapping] = ()
) -> None:
    """Account for reports written around the session, on `connection` (the session's: the
    sums are written when it commits, with everything else). `before`: the stored values of
    the reports that were changed or deleted, as they were; `after`: the values of the
    reports inserted or changed, as written. Each mapping is keyed by Report's column names
    and holds at least REPORT_COLUMNS (signed_off_at may be left out: not signed off)."""
    del connection  # the session's own, which _places() and the commit use
    session = db.session()
    places = _places(session, {row["hospital_id"] for row in (*before, *after)})
    _account(session, before, -1, places)
    _account(session, after, 1, places)


# --- The ORM's writes ---------------------------------------------------------------------


def _stored(state, name: str):
    """An attribute's value as the database holds it before this flush."""
    history = state.attrs[name].history
    if history.deleted:
        return history.deleted[0]
    if history.unchanged:
        return history.unchanged[0]
    return _UNKNOWN


_UNKNOWN = object()


def _stored_values(session: Session, obj, names: Sequence[str]) -> dict:
    state = inspect(obj)
    values = {name: _stored(state, name) for name in names}
    if any(value is _UNKNOWN for value in values.values()):
        # Changed without being read first: the row still holds the old values (the flush
        # has not written yet), so ask it.
        table = type(obj).__table__
        row = session.connection().execute(
            select(*(table.c[name] for name in names)).where(table.c.id == obj.id)
        )
        values = dict(row.one()._mapping)
    return values


def _before_flush(session: Session, _context, _instances) -> None:
    # Hospitals first: moving a hospital (another region, archived, restored) moves the sums
    # of its reports as the database holds them before this flush; the reports this flush
    # changes are then taken from and added to the hospital's row as it is now.
    moving = [
        h
        for h in session.dirty
        if isinstance(h, Hospital) and session.is_modified(h, include_collections=False)
    ]
    for hospital in moving:
        old = _stored_values(session, hospital, ("region", "is_active"))
        was, now = (old["region"], bool(old["is_active"])), (hospital.region, hospital.is_active)
        if was != (now[0], bool(now[1])):
            _move(session, hospital.id, was, (now[0], bool(now[1])))
    changed = [
        r
        for r in (*session.dirty, *session.deleted)
        if isinstance(r, Report)
        and (r in session.deleted or session.is_modified(r, include_collections=False))
    ]
    stored = [_stored_values(session, report, REPORT_COLUMNS) for report in changed]
    _account(session, stored, -1, _places(session, {v["hospital_id"] for v in stored}))
    # The new values are read after the flush, once the before_update hooks (a changed
    # signed-off report turning provisional) have had their say and new rows have their ids.
    session.info[BEFORE] = [r for r in changed if r not in session.deleted]


def _after_flush(session: Session, _context) -> None:
    written = [*session.info.pop(BEFORE, ()), *(r for r in session.new if isinstance(r, Report))]
    if not written:
        return
    values = [{name: getattr(report, name) for name in REPORT_COLUMNS} for report in written]
    _account(session, values, 1, _places(session, {v["hospital_id"] for v in values}))


def _move(session: Session, hospital_id: int, was: tuple[str, bool], now: tuple[str, bool]):
    for day, *figures in session.connection().execute(_HOSPITAL_DAYS, {"hospital_id": hospital_id}):
        sums = [int(value or 0) for value in figures]  # MariaDB's SUM() is a Decimal
        _add(session, (day, *was), sums, -1)
        _add(session, (day, *now), sums, 1)


def _hospital_days():
    """A hospital's reports summed per day (one report a day, but summed so the columns are
    SUMS): what its move takes from one row and adds to another."""
    return (
        select(
            Report.report_date,
            db.func.count(),
            db.func.sum(db.case((Report.on_time, 1), else_=0)),
            db.func.count(Report.signed_off_at),
            *(db.func.sum(getattr(Report, name)) for name in rules.CENSUS_FIELDS),
        )
        .where(Report.hospital_id == db.bindparam("hospital_id"))
        .group_by(Report.report_date)
    )


_HOSPITAL_DAYS = _hospital_days()


def _before_commit(session: Session) -> None:
    session.flush()  # the last changes' differences, before they are written
    connection = None
    # Always the days before the weeks, each in key order: every transaction takes the rows
    # it changes in one order, so none waits for a row another holds while holding one that
    # other waits for.
    for name, table, key, sums, counted in (
        (PENDING, RegionDay.__table__, KEY, SUMS, {"changes": 1}),
        (PENDING_WEEKS, HospitalWeek.__table__, WEEK_KEY, WEEK_SUMS, {}),
    ):
        pending = session.info.pop(name, None)
        rows = [
            {**dict(zip(key, k, strict=True)), **dict(zip(sums, v, strict=True)), **counted}
            for k, v in sorted((pending or {}).items())
            if any(v)
        ]
        if rows:
            connection = connection or session.connection()
            added = (*sums, *counted)
            connection.execute(_upsert(connection.dialect.name, table, key, added), rows)


def _forget(session: Session, transaction) -> None:
    # The outermost transaction ended (committed, rolled back or closed): what it gathered
    # and did not write is no longer anyone's (a savepoint's end leaves it).
    if transaction.parent is None:
        for name in (PENDING, PENDING_WEEKS, BEFORE):
            session.info.pop(name, None)


_UPSERTS: dict[tuple[str, str], object] = {}


def _upsert(dialect: str, table, key: Sequence[str], sums: Sequence[str]):
    """INSERT … that adds to the sums of a row already there: each database's own spelling,
    built once per table."""
    if (dialect, table.name) not in _UPSERTS:
        if dialect in ("mysql", "mariadb"):
            from sqlalchemy.dialects.mysql import insert

            stmt = insert(table)
            stmt = stmt.on_duplicate_key_update({n: table.c[n] + stmt.inserted[n] for n in sums})
        else:
            if dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert
            stmt = insert(table)
            stmt = stmt.on_conflict_do_update(
                index_elements=list(key), set_={n: table.c[n] + stmt.excluded[n] for n in sums}
            )
        _UPSERTS[(dialect, table.name)] = stmt
    return _UPSERTS[(dialect, table.name)]


def register() -> None:
    """Called by create_app() (idempotent, like the audit trail's registration)."""
    for name, listener in (
        ("before_flush", _before_flush),
        ("after_flush", _after_flush),
        ("before_commit", _before_commit),
        ("after_transaction_end", _forget),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


# --- Checking -------------------------------------------------------------------------------


def differences() -> list[tuple[str, tuple, list[int] | None, list[int]]]:
    """Where the stored rows differ from the sums of the reports they stand for: (table, key,
    the row's sums or None, the reports' sums), in the order of SUMS or WEEK_SUMS. Empty when
    they agree (a row whose reports were all deleted holds zeros, as nothing does).
    `flask check-integrity` and the test suite (after every test) ask it."""
    days_expected = _by_key(
        select(
            Report.report_date,
            Hospital.region,
            Hospital.is_active,
            func.count(),
            func.sum(case((Report.on_time, 1), else_=0)),
            func.count(Report.signed_off_at),
            *(func.sum(getattr(Report, name)) for name in rules.CENSUS_FIELDS),
        )
        .join(Hospital, Hospital.id == Report.hospital_id)
        .group_by(Report.report_date, Hospital.region, Hospital.is_active)
    )
    days_stored = _by_key(
        select(
            RegionDay.report_date,
            RegionDay.region,
            RegionDay.active,
            *(getattr(RegionDay, name) for name in SUMS),
        )
    )
    # Weeks are added up here: the Monday of a date is written differently by each database.
    weeks_expected: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for hospital_id, day, on_time in db.session.execute(
        select(Report.hospital_id, Report.report_date, Report.on_time)
    ):
        counts = weeks_expected[(hospital_id, monday(day))]
        counts[0] += 1
        counts[1] += 1 if on_time else 0
    weeks_stored = {
        (hospital_id, week): [reports, on_time]
        for hospital_id, week, reports, on_time in db.session.execute(
            select(HospitalWeek.hospital_id, HospitalWeek.week, *WEEK_COLUMNS)
        )
    }
    return _compared("region_days", days_stored, days_expected, len(SUMS)) + _compared(
        "hospital_weeks", weeks_stored, weeks_expected, len(WEEK_SUMS)
    )


WEEK_COLUMNS = (HospitalWeek.reports, HospitalWeek.on_time)


def _compared(table: str, stored: dict, expected: dict, width: int) -> list:
    zeros = [0] * width
    return [
        (table, key, stored.get(key), expected.get(key, zeros))
        for key in sorted(set(expected) | set(stored))
        if stored.get(key) != expected.get(key, zeros)
    ]


def _by_key(stmt) -> dict[Key, list[int]]:
    # Regions in lower case: MariaDB groups and keys them without regard to case.
    sums: dict[Key, list[int]] = defaultdict(lambda: [0] * len(SUMS))
    for day, region, active, *figures in db.session.execute(stmt):
        row = sums[(day, region.lower(), bool(active))]
        for i, value in enumerate(figures):
            row[i] += int(value or 0)
    return dict(sums)
