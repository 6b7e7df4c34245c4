"""The data rules, written once.

Forms and the CSV import call the checks below to put a message beside a field or a cell;
models.py turns the same tables into CHECK constraints, so a row that breaks a rule cannot be
stored by any path. What each field is called, on every page and in every message, is here too
(FIELD_LABELS).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import NamedTuple
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import Boolean
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement

# --- What the fields are called --------------------------------------------------------------

# One name per field for the forms, the import's messages, the audit trail and the warnings
# about unusual figures. Keys are the models' attribute names.
FIELD_LABELS: dict[str, str] = {
    # Hospitals
    "code": "Facility code",
    "name": "Name",
    "region": "Region",
    "city": "City",
    "ownership": "Ownership",
    "is_active": "Active",
    # Reports
    "hospital_id": "Hospital",
    "report_date": "Report date",
    "beds_total": "Total beds",
    "beds_occupied": "Occupied beds",
    "icu_beds_total": "Total ICU beds",
    "icu_beds_occupied": "Occupied ICU beds",
    "ventilators_total": "Total ventilators",
    "ventilators_in_use": "Ventilators in use",
    "admissions": "Admissions",
    "discharges": "Discharges",
    "deaths": "Deaths",
    "notes": "Notes",
    "outlier_confirmed": "Unusual figures confirmed",
    "outlier_note": "What was unusual",
    # Marks of the audit trail on a change to a report of a closed day (audit/trail.py)
    "closed_day": "Change to a closed day",
    "closed_day_exception": "Allowed by closing exception number",
    # Accounts
    "email": "Email",
    "display_name": "Name",
    "role": "Role",
    "hospitals": "Assigned hospitals",
    "password": "Password",
    # Reporting settings
    "deadline_time": "Deadline (time of day)",
    "deadline_day_offset": "Deadline (days after the report's day)",
    "close_after_days": "Days after which a day closes for editors",
    # Closing exceptions
    "date_from": "From",
    "date_to": "To",
    "ends_at": "Open until",
    "reason": "Reason",
    "ended_at": "Ended early at",
}


def label(field: str) -> str:
    return FIELD_LABELS[field]


# --- Characters no text may hold ------------------------------------------------------------

# One rule for every text a person sends (form fields, query strings, CSV cells): tab, line
# feed and carriage return are white space and pass (single-line fields fold them away); every
# other control character (C0, DEL, C1; NUL above all: PostgreSQL refuses it), the bidi
# overrides and isolates that make text read differently from what is stored, lone
# surrogates and the non-characters U+FFFE/U+FFFF are refused, with the field's name.
_FORBIDDEN_CHARS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)


def _char_kind(char: str) -> str:
    code = ord(char)
    if code == 0:
        return "a NUL character"
    if 0xD800 <= code <= 0xDFFF:
        return "a broken character (lone surrogate)"
    if 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
        return "a text-direction control character"
    if code >= 0xFFFE:
        return "a non-character"
    return "a control character"


def text_errors(text: str | None, name: str) -> list[str]:
    """What is wrong with the characters of `text`, sent as the field or parameter `name`
    (as people call it): [] when every character may be stored."""
    found = _FORBIDDEN_CHARS.search(text or "")
    if found is None:
        return []
    char = found.group(0)
    return [
        f"{name} holds {_char_kind(char)} (U+{ord(char):04X}) at character "
        f"{found.start() + 1}, which cannot be stored: remove it and try again."
    ]


def without_forbidden(text: str) -> str:
    """`text` without the characters text_errors() refuses: for what is only shown and was
    never typed by the person (an uploaded file's name, as their browser sent it)."""
    return _FORBIDDEN_CHARS.sub("", text)


# --- Ids in URLs ------------------------------------------------------------------------------

# The largest id any table can hold on every database (PostgreSQL's INTEGER): an id in a URL
# beyond it names no record, so its page is a 404 without asking the database (which would
# refuse the number itself).
ID_MAX = 2**31 - 1


# --- Hospitals -------------------------------------------------------------------------------

CODE_MIN, CODE_MAX = 2, 20
CODE_RE = re.compile(rf"^[A-Z0-9-]{{{CODE_MIN},{CODE_MAX}}}$")
CODE_MESSAGE = f"Use {CODE_MIN} to {CODE_MAX} characters: letters A–Z, digits 0–9 and hyphens (-)."
NAME_MAX = 200
REGION_MAX = 100
CITY_MAX = 100

OWNERSHIP = {"public": "Public", "private": "Private", "non-profit": "Non-profit"}


def normalise_code(value: str | None) -> str:
    """Facility codes are compared and stored upper-case, so 'ab-1' and 'AB-1' are one code."""
    return (value or "").strip().upper()


def normalise_space(value: str | None) -> str:
    """Trim and collapse runs of white space: '  North   East ' is 'North East'."""
    return " ".join((value or "").split())


CODE_REQUIRED_MESSAGE = "Enter the hospital's facility code."


def code_errors(code: str) -> list[str]:
    return [] if CODE_RE.fullmatch(code) else [CODE_MESSAGE]


def clip(text: str, limit: int = 40) -> str:
    """`text` cut to `limit` characters for a message that quotes what was typed."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unknown_code_message(code: str) -> str:
    return f"No hospital has the code “{clip(code)}”."


# --- Daily reports --------------------------------------------------------------------------

MAX_COUNT = 100_000
NOTES_MAX = 2000
OUTLIER_NOTE_MAX = 500

# The figures of a daily report, in the order of the form and of the CSV columns: what the
# hospital has and uses that day (the census), then the patients who moved that day.
CENSUS_FIELDS: tuple[str, ...] = (
    "beds_total",
    "beds_occupied",
    "icu_beds_total",
    "icu_beds_occupied",
    "ventilators_total",
    "ventilators_in_use",
)
FLOW_FIELDS: tuple[str, ...] = ("admissions", "discharges", "deaths")
COUNT_FIELDS: tuple[str, ...] = CENSUS_FIELDS + FLOW_FIELDS

# Figures that rarely change from one report to the next: a new report starts with them.
CAPACITY_FIELDS = ("beds_total", "icu_beds_total", "ventilators_total")

# The order a person meets a report's fields in (the form, its error summary, the audit
# trail): the day's own figures first, then the capacity a new report starts with, which
# rarely changes, so a clerk types the day's figures without stepping over it.
DAY_FIGURES: tuple[str, ...] = (
    "beds_occupied",
    "icu_beds_occupied",
    "ventilators_in_use",
    *FLOW_FIELDS,
)
REPORT_FORM_FIELDS: tuple[str, ...] = ("report_date", *DAY_FIGURES, *CAPACITY_FIELDS, "notes")


class AtMost(NamedTuple):
    """`part` may not exceed `whole`; the message goes beside `part`."""

    part: str
    whole: str
    message: str


CAPACITY_RULES: tuple[AtMost, ...] = (
    AtMost(
        "beds_occupied", "beds_total", "Occupied beds ({part}) cannot exceed total beds ({whole})."
    ),
    AtMost("icu_beds_total", "beds_total", "ICU beds ({part}) cannot exceed total beds ({whole})."),
    AtMost(
        "icu_beds_occupied",
        "icu_beds_total",
        "Occupied ICU beds ({part}) cannot exceed total ICU beds ({whole}).",
    ),
    AtMost(
        "icu_beds_occupied",
        "beds_occupied",
        "Occupied ICU beds ({part}) cannot exceed occupied beds ({whole}); "
        "ICU patients are counted among the occupied beds.",
    ),
    AtMost(
        "ventilators_in_use",
        "ventilators_total",
        "Ventilators in use ({part}) cannot exceed total ventilators ({whole}).",
    ),
)


def count_range_message(field: str) -> str:
    return f"{label(field)} must be a whole number from 0 to {MAX_COUNT:,}."


def report_errors(values: Mapping[str, int | None]) -> dict[str, list[str]]:
    """Every rule a report's counts break, as {field: [messages]}. Missing values are skipped:
    the 'required' check reports them."""
    errors: dict[str, list[str]] = {}
    for field in COUNT_FIELDS:
        value = values.get(field)
        if value is not None and not 0 <= value <= MAX_COUNT:
            errors.setdefault(field, []).append(count_range_message(field))
    for rule in CAPACITY_RULES:
        part, whole = values.get(rule.part), values.get(rule.whole)
        if part is None or whole is None or rule.part in errors or rule.whole in errors:
            continue
        if part > whole:
            errors.setdefault(rule.part, []).append(rule.message.format(part=part, whole=whole))
    return errors


def zone() -> ZoneInfo | None:
    """The hospitals' time zone (config TIMEZONE); None means the server's own."""
    tz = current_app.config.get("TIMEZONE") if has_app_context() else None
    return ZoneInfo(tz) if tz else None


def today() -> date:
    """Today in the hospitals' time zone (config TIMEZONE; the server's own when unset)."""
    return datetime.now(zone()).date()


# --- The reporting cycle ----------------------------------------------------------------------

# Day D's report is due by this time of day, on day D + DEADLINE_DAY_OFFSET, in TIMEZONE
# (until an administrator changes it on /settings).
DEFAULT_DEADLINE_TIME = time(12, 0)
DEFAULT_DEADLINE_DAY_OFFSET = 1  # 0: the same day, 1: the next day
DEADLINE_DAY_OFFSETS = {0: "the same day", 1: "the next day"}
# Days after which a day's reports close for editors (None: never).
DEFAULT_CLOSE_AFTER_DAYS = 7
CLOSE_AFTER_MAX = 366
EXCEPTION_REASON_MAX = 500


# No report is older than this: a date like 0001-01-01 is a typing slip, and the dashboard's
# date arithmetic (a year of trends before it) must stay within the calendar.
EARLIEST_REPORT_DATE = date(2000, 1, 1)


REPORT_DATE_FORMAT = "%Y-%m-%d"
REPORT_DATE_REQUIRED_MESSAGE = "Enter the date the figures are for."


def parse_report_date(text: str | None) -> date | None:
    """A date typed as year-month-day (the form, the import, every filter, ?date=); None
    when nothing was typed. Raises ValueError with the message to show when it is not one,
    or lies outside every date's range (date_range_errors). Whether the date may carry a
    report is report_date_errors'."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = datetime.strptime(text, REPORT_DATE_FORMAT).date()
    except ValueError:
        raise ValueError(
            f"“{clip(text, 20)}” is not a date: write it as year-month-day, "
            f"like {today().isoformat()}."
        ) from None
    for message in date_range_errors(value):
        raise ValueError(message)
    return value


# Every date anyone types (a report's, a filter's, an exception's) lies in this range: the
# arithmetic done with a date (a day after it, a year of trends before it, local midnight in
# UTC) then stays inside the calendar, and nothing sensible is refused.
LATEST_DATE = date(2099, 12, 31)


def date_range_errors(value: date) -> list[str]:
    if value < EARLIEST_REPORT_DATE:
        return [f"The date cannot be before {day_text(EARLIEST_REPORT_DATE)}."]
    if value > LATEST_DATE:
        return [f"The date cannot be after {day_text(LATEST_DATE)}."]
    return []


def day_text(value: date) -> str:
    """A day as people read it, on every page and in every message: 28 Nov 2026 (the same
    everywhere, whatever the server's locale; a date control keeps its own)."""
    return f"{value.day} {value:%b %Y}"


def report_date_errors(value: date | None) -> list[str]:
    if value is not None and value > today():
        return [f"The report date cannot be in the future (today is {day_text(today())})."]
    if value is not None and value < EARLIEST_REPORT_DATE:
        return [f"The report date cannot be before {day_text(EARLIEST_REPORT_DATE)}."]
    return []


# --- Accounts --------------------------------------------------------------------------------

EMAIL_MAX = 254
DISPLAY_NAME_MAX = 100
PASSWORD_MIN = 12
# Hashing cost grows with length; nobody types more than this.
PASSWORD_MAX = 256
ROLES: dict[str, str] = {
    "admin": "Administrator",
    "editor": "Editor",
    "viewer": "Viewer",
}
ROLE_HELP: dict[str, str] = {
    "admin": "does everything, including managing accounts",
    "editor": "adds and changes the reports of the hospitals assigned to them; sees all",
    "viewer": "sees everything, changes nothing",
}
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")


def normalise_email(value: str | None) -> str:
    """Emails are compared and stored lower-case: 'Ann@X.org' and 'ann@x.org' are one account."""
    return (value or "").strip().lower()


def email_errors(email: str) -> list[str]:
    if len(email) > EMAIL_MAX:
        return [f"Keep the email address to {EMAIL_MAX} characters."]
    if not _EMAIL_RE.fullmatch(email):
        return ["Enter an email address like name@hospital.org."]
    return []


def display_name_errors(name: str) -> list[str]:
    """`name` as normalise_space() left it."""
    if not name:
        return ["Enter the person's name."]
    if len(name) > DISPLAY_NAME_MAX:
        return [f"Keep the name to {DISPLAY_NAME_MAX} characters."]
    return []


# Only editors are assigned to hospitals: the message that follows says what to change.
ONLY_EDITORS_MESSAGE = "Only editors are assigned to hospitals"


def password_errors(password: str, email: str = "") -> list[str]:
    if len(password) < PASSWORD_MIN:
        return [f"Use at least {PASSWORD_MIN} characters; this password has {len(password)}."]
    if len(password) > PASSWORD_MAX:
        return [f"Use at most {PASSWORD_MAX} characters."]
    if email and password.strip().lower() == normalise_email(email):
        return ["The password cannot be the email address."]
    if len(set(password)) < 4:
        return ["This password is too easy to guess: use more different characters."]
    return []


# --- The same rules as database constraints --------------------------------------------------


def report_check_constraints() -> dict[str, str]:
    """{constraint name: SQL condition} for hospital_stats."""
    checks = {f"{field}_range": f"{field} BETWEEN 0 AND {MAX_COUNT}" for field in COUNT_FIELDS}
    for rule in CAPACITY_RULES:
        checks[f"{rule.part}_le_{rule.whole}"] = f"{rule.part} <= {rule.whole}"
    return checks


def account_check_constraints() -> dict[str, str]:
    roles = ", ".join(f"'{key}'" for key in ROLES)
    return {"role_known": f"role IN ({roles})", "display_name_not_blank": "display_name <> ''"}


def hospital_check_constraints() -> dict[str, str]:
    owners = ", ".join(f"'{key}'" for key in OWNERSHIP)
    return {
        "ownership_known": f"ownership IN ({owners})",
        "name_not_blank": "name <> ''",
        "region_not_blank": "region <> ''",
    }


class CodeFormatCheck(ColumnElement):
    """`column` holds a well-formed facility code. No SQL is common to the three databases
    for a character class, so each gets its own spelling (below)."""

    type = Boolean()
    inherit_cache = True

    def __init__(self, column: str):
        self.column = column


@compiles(CodeFormatCheck)
def _code_format_sqlite(element, compiler, **kw):
    # GLOB is case-sensitive; '*[^A-Z0-9-]*' matches any string holding another character.
    c = element.column
    return f"length({c}) BETWEEN {CODE_MIN} AND {CODE_MAX} AND {c} NOT GLOB '*[^A-Z0-9-]*'"


@compiles(CodeFormatCheck, "postgresql")
def _code_format_postgresql(element, compiler, **kw):
    return f"{element.column} ~ '{CODE_RE.pattern}'"


@compiles(CodeFormatCheck, "mysql")
@compiles(CodeFormatCheck, "mariadb")
def _code_format_mysql(element, compiler, **kw):
    # The column's collation is case-insensitive; the binary cast makes A-Z mean upper case.
    # No anchors: MariaDB's '$' also matches before a final newline.
    c = element.column
    return (
        f"CHAR_LENGTH({c}) BETWEEN {CODE_MIN} AND {CODE_MAX} "
        f"AND CAST({c} AS BINARY) NOT REGEXP '[^A-Z0-9-]'"
    )


# --- Unusual figures: warnings to confirm, never refusals -------------------------------------
# outliers.py applies these when a report is entered, edited or imported.

# A figure is compared with the hospital's last OUTLIER_HISTORY reports before its date, once
# there are at least OUTLIER_MIN_HISTORY of them: it is unusual when it lies more than
# OUTLIER_SIGMAS spreads from their mean.
OUTLIER_HISTORY = 30
OUTLIER_MIN_HISTORY = 5
OUTLIER_SIGMAS = 3
# The spread is at least OUTLIER_MIN_SPREAD and at least OUTLIER_MIN_SPREAD_PERCENT of the mean,
# so a steady history (standard deviation near 0) does not turn every small change into a
# warning: a constant 10 accepts 7 to 13, a constant 150 accepts 105 to 195.
OUTLIER_MIN_SPREAD = 1
OUTLIER_MIN_SPREAD_PERCENT = 10
# Figures compared with their history, as the warnings name them. Capacities (totals) are
# left out: they change rarely and in steps, and a changed capacity is checked by the
# occupancy jump below.
OUTLIER_FIELDS: tuple[str, ...] = (
    "beds_occupied",
    "icu_beds_occupied",
    "ventilators_in_use",
    *FLOW_FIELDS,
)
# Occupancy (percent) that moves by more than this many points from the previous report.
OUTLIER_JUMP_POINTS = 30
OCCUPANCY_RATES: dict[str, tuple[str, str]] = {
    "Bed occupancy": ("beds_occupied", "beds_total"),
    "ICU occupancy": ("icu_beds_occupied", "icu_beds_total"),
}


# --- Reading typed figures: the report form and the CSV import -------------------------------

COUNT_REQUIRED_MESSAGE = "Enter a number, 0 if there are none."
# "1,200" or "1 200" as typed from a paper form; groups of three only, so "1,5" stays an error.
_GROUPED_COUNT = re.compile(r"^[0-9]{1,3}([ ,\u00a0\u202f][0-9]{3})+$")
# Plain ASCII digits (a minus sign reaches the range check's message): int() alone would
# also take "2_00", "+5" and other scripts' digits.
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


# Every whole number typed anywhere (counts, settings, ?page=) has at most this many digits
# (leading zeros aside): past it the number is past every range, so it is "too large" without
# being converted (Python refuses int() of more than 4,300 digits with its own message).
WHOLE_NUMBER_DIGITS = 9


class TooLarge(ValueError):
    """A whole number with more than WHOLE_NUMBER_DIGITS digits."""


def read_whole_number(text: str) -> int:
    """`text` (already stripped) as a whole number of ASCII digits, with an optional minus.
    Raises TooLarge for more than WHOLE_NUMBER_DIGITS digits, ValueError for anything else
    that is not a whole number (other scripts' digits, "+5", "2_00", "1e3" …)."""
    if not _WHOLE_NUMBER.fullmatch(text):
        raise ValueError(text)
    if len(text.lstrip("-").lstrip("0")) > WHOLE_NUMBER_DIGITS:
        raise TooLarge(text)
    return int(text, 10)


def parse_count(raw: str | None, field: str) -> int | None:
    """A typed count of `field` as a whole number; None when nothing was typed. Raises
    ValueError with the message to show when the text is not a whole number (the range is
    report_errors')."""
    text = (raw or "").strip()
    if _GROUPED_COUNT.match(text):
        text = re.sub(r"[^0-9]", "", text)
    if not text:
        return None
    try:
        return read_whole_number(text)
    except TooLarge:
        raise ValueError(f"{label(field)} is too large: {count_range_message(field)}") from None
    except ValueError:
        raise ValueError(
            f"{label(field)} must be a whole number from 0 to {MAX_COUNT:,}, "
            f"not “{clip(raw or '', 20)}”."
        ) from None


def strip_or_none(value: str | None) -> str | None:
    """Text with its outer white space trimmed; None when nothing is left (stored as NULL)."""
    value = (value or "").strip()
    return value or None


NOTES_MESSAGE = f"Keep notes to {NOTES_MAX:,} characters."


def notes_errors(notes: str | None) -> list[str]:
    return [NOTES_MESSAGE] if notes is not None and len(notes) > NOTES_MAX else []
