"""The reporting cycle, written once: when day D's report is due, whether a report was on
time, and whether a day is closed for editors.

- **Due.** Day D's report is due by the settings' time of day, on day D or the next day
  (deadline_day_offset), in the hospitals' time zone (config TIMEZONE). A time that a
  daylight-saving change skips or repeats is read as zoneinfo reads it (fold 0).
- **On time.** A report is on time when it was first saved (inserted) by its day's deadline.
  That is decided once, at the insert, by the settings of that moment (register() below), and
  stored on the report: later edits and later changes of the settings leave it as it was. A
  report brought in by the import counts by when the import ran; a deleted report entered
  again counts by when it was entered again.
- **Missing.** A hospital's day with no report once its deadline (by today's settings) has
  passed.
- **Closed.** A day more than close_after_days days before today is closed for editors (None:
  never). The policy (policy.py) refuses them its reports, unless an open exception
  (ClosingException) covers that hospital and day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask import g, has_app_context
from sqlalchemy import event, select

from . import rules
from .extensions import db
from .models import ClosingException, Report, ReportingSettings, utcnow

SETTINGS_ID = 1


def clock() -> datetime:
    """Now, naive UTC: every decision of the cycle reads the time here (tests of the
    deadline's edge set it to the second)."""
    return utcnow()


def local_today() -> date:
    """Today in the hospitals' time zone, by clock()."""
    zone = rules.zone() or datetime.now().astimezone().tzinfo
    return clock().replace(tzinfo=UTC).astimezone(zone).date()


def defaults() -> ReportingSettings:
    """The settings of a network that never changed them (not added to the session)."""
    return ReportingSettings(
        id=SETTINGS_ID,
        deadline_time=rules.DEFAULT_DEADLINE_TIME,
        deadline_day_offset=rules.DEFAULT_DEADLINE_DAY_OFFSET,
        close_after_days=rules.DEFAULT_CLOSE_AFTER_DAYS,
    )


def _stored(connection=None) -> ReportingSettings | None:
    if connection is None:
        return db.session.get(ReportingSettings, SETTINGS_ID)
    row = connection.execute(
        select(
            ReportingSettings.deadline_time,
            ReportingSettings.deadline_day_offset,
            ReportingSettings.close_after_days,
        ).where(ReportingSettings.id == SETTINGS_ID)
    ).first()
    if row is None:
        return None
    return ReportingSettings(
        id=SETTINGS_ID,
        deadline_time=row.deadline_time,
        deadline_day_offset=row.deadline_day_offset,
        close_after_days=row.close_after_days,
    )


def settings(connection=None) -> ReportingSettings:
    """The settings in force, read once per request (or command); `connection` when called
    during a flush, which may not use the session."""
    if has_app_context() and "_reporting_settings" in g:
        return g._reporting_settings
    found = _stored(connection) or defaults()
    if has_app_context():
        g._reporting_settings = found
    return found


def forget_settings() -> None:
    """After /settings saved new ones: the rest of the request reads those."""
    if has_app_context():
        g.pop("_reporting_settings", None)


def deadline(day: date, rules_: ReportingSettings) -> datetime:
    """When day `day`'s report is due, as an aware time in the hospitals' time zone."""
    zone = rules.zone() or datetime.now().astimezone().tzinfo
    due_day = day + timedelta(days=rules_.deadline_day_offset)
    return datetime.combine(due_day, rules_.deadline_time, tzinfo=zone)


def deadline_utc(day: date, rules_: ReportingSettings) -> datetime:
    """deadline() as the database stores times: naive UTC."""
    return deadline(day, rules_).astimezone(UTC).replace(tzinfo=None)


def is_on_time(day: date, saved_at: datetime, rules_: ReportingSettings) -> bool:
    """`saved_at` (naive UTC, as stored) is by the deadline of `day`: on time."""
    return saved_at <= deadline_utc(day, rules_)


def is_due(day: date, rules_: ReportingSettings, now: datetime | None = None) -> bool:
    """The deadline of `day` has passed (a day without a report is then missing)."""
    return (now or clock()) > deadline_utc(day, rules_)


def is_closed(day: date, rules_: ReportingSettings, today: date | None = None) -> bool:
    if rules_.close_after_days is None:
        return False
    return ((today or local_today()) - day).days > rules_.close_after_days


# Set on a Report before its insert (reports/views.py, restore) to class it by that moment.
FIRST_SAVED_AT = "_first_saved_at"


def _classify(mapper, connection, report: Report) -> None:
    # At the insert, by the settings in force now: what "first saved" means (module doc).
    # A deleted report restored from its history keeps the moment it was first saved.
    saved = report.__dict__.get(FIRST_SAVED_AT) or clock()
    report.on_time = is_on_time(report.report_date, saved, settings(connection))


def register() -> None:
    """Called by create_app(): every report inserted, by any path, is classed on time or
    late (idempotent, like the audit trail's registration)."""
    if not event.contains(Report, "before_insert", _classify):
        event.listen(Report, "before_insert", _classify)


def due_text(day: date, rules_: ReportingSettings | None = None) -> str:
    """When `day`'s report is due, as the entry page and the forms say it: "is due by 12:00
    tomorrow", "was due by 12:00 on 27 Nov 2026"."""
    rules_ = rules_ or settings()
    due = deadline(day, rules_)
    today = local_today()
    when = {today: "today", today + timedelta(days=1): "tomorrow"}.get(
        due.date(), f"on {rules.day_text(due.date())}"
    )
    verb = "was due" if is_due(day, rules_) else "is due"
    return f"{verb} by {due:%H:%M} {when}"


def day_closed(day: date) -> bool:
    """Is `day` closed for editors now (by the settings in force)? For the pages."""
    return is_closed(day, settings())


# --- Exceptions as the policy asks them (appended for the closing rule) -----------------------


@dataclass(frozen=True)
class Opening:
    """An exception not ended yet, as the policy needs it: the rule of ClosingException.is_open,
    for any day, without a query per day."""

    id: int
    date_from: date
    date_to: date
    ends_at: datetime

    def opens(self, day: date, now: datetime) -> bool:
        return self.date_from <= day <= self.date_to and now < self.ends_at


def _openings_cache() -> dict[int, tuple[Opening, ...]]:
    return g.setdefault("_openings", {}) if has_app_context() else {}


def load_openings(hospital_ids, connection=None) -> dict[int, tuple[Opening, ...]]:
    """The exceptions not ended yet of `hospital_ids`, in one query for those not read yet in
    this request: a list or an import asks about many days of several hospitals. The policy
    loads an editor's hospitals at once. `connection` when called during a flush (the audit
    trail)."""
    cache = _openings_cache()
    wanted = sorted(set(hospital_ids) - cache.keys())
    if wanted:
        stmt = select(
            ClosingException.hospital_id,
            ClosingException.id,
            ClosingException.date_from,
            ClosingException.date_to,
            ClosingException.ends_at,
        ).where(
            ClosingException.hospital_id.in_(wanted),
            ClosingException.ended_at.is_(None),
            ClosingException.ends_at > clock(),
        )
        found: dict[int, list[Opening]] = {hospital_id: [] for hospital_id in wanted}
        rows = (connection if connection is not None else db.session).execute(stmt)
        for hospital_id, *opening_ in rows:
            found[hospital_id].append(Opening(*opening_))
        cache.update({hospital_id: tuple(items) for hospital_id, items in found.items()})
    return cache


def openings(hospital_id: int, connection=None) -> tuple[Opening, ...]:
    """The exceptions of `hospital_id` that are not ended (load_openings)."""
    return load_openings([hospital_id], connection)[hospital_id]


def opening(hospital_id: int, day: date, connection=None) -> Opening | None:
    """The exception that opens `day` for `hospital_id`'s editors now (the one that lasts
    longest), if any, from the request's cache."""
    now = clock()
    found = [o for o in openings(hospital_id, connection) if o.opens(day, now)]
    return max(found, key=lambda o: o.ends_at) if found else None


def forget_openings() -> None:
    """After an exception was added or ended: the rest of the request reads them again."""
    if has_app_context():
        g.pop("_openings", None)
