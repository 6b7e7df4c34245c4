"""Jinja filters and helpers for formatting numbers, dates and conflicts for people."""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime

from flask import Flask, g, request, url_for

from . import rules


def number(value) -> str:
    return "—" if value is None else f"{value:,}"


def percent(value) -> str:
    return "—" if value is None else f"{value:.1f} %"


def day(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if type(value) is date:
        return _day_of_date(value)
    return rules.day_text(value)


# strftime costs some microseconds, and a hospital's page writes ~300 days (the chart's
# table, the calendar, each report row): the same few hundred days, formatted once per
# worker. Dates only (a few thousand at most), not times, which are all different.
_day_of_date = functools.lru_cache(maxsize=8192)(rules.day_text)


def moment(value: datetime | None) -> str:
    """A stored (naive UTC) time, in the hospitals' time zone, to the minute, with the zone's
    abbreviation (e.g. "28 Nov 2026, 14:05 UTC"): a time read on a page, in an email or over
    the phone then says which clock it is on."""
    if value is None:
        return "—"
    local = value.replace(tzinfo=UTC).astimezone(rules.zone())
    return f"{local.day} {local:%b %Y, %H:%M} {local.tzname()}"


# A day as the audit trail stores it in its values and labels: year-month-day text, which
# stays the same whatever the display format becomes.
STORED_DAY = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
STORED_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?")


def people_dates(text: str) -> str:
    """Stored text with its year-month-day dates written as people read them (28 Nov 2026)."""

    def shown(match: re.Match) -> str:
        try:
            return rules.day_text(date(*map(int, match.groups())))
        except ValueError:
            return match.group(0)

    return STORED_DAY.sub(shown, text)


def audit_value(value) -> str:
    """An old or new value in the audit trail, as a person reads it."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return number(value)
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "none"
    if isinstance(value, str) and STORED_MOMENT.fullmatch(value):
        return moment(datetime.fromisoformat(value))  # stored naive UTC, like the columns
    return people_dates(str(value))


def conflict_message(conflict) -> str:
    """A conflicts.Conflict in words: who changed or deleted the record, and when."""
    kind = conflict.kind
    who = conflict.actor or "Someone else"
    when = f" at {moment(conflict.at)}" if conflict.at else ""
    if conflict.deleted:
        return f"{who} deleted this {kind}{when}, after you opened it, so nothing was saved."
    return f"{who} changed this {kind}{when}, after you opened it, so nothing was saved. " + (
        "Their values are beside yours below: check them, then save again to apply yours."
        if conflict.differences
        else "Their values are the ones you entered; nothing else differs."
    )


def known_args() -> dict[str, str]:
    """The query arguments of this request that the page itself reads: those its query-string
    forms (web.CheckedArgs) declared. Any other name (?endpoint=, ?_external=, ?hospital_id=,
    a typo) is not carried into the page's links: url_for() would take it as its own
    argument and fail or change the link."""
    names = g.get("query_names") or ()
    return {key: value for key, value in request.args.items() if key in names}


def url_with(**changes) -> str:
    """This page's URL with some query arguments changed (None drops one): pagination and
    filter links keep every other argument the page reads (known_args)."""
    args = known_args()
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return url_for(request.endpoint, **(request.view_args or {}), **args)


# --- URLs built once -----------------------------------------------------------------------------
# url_for() costs as much as rendering a table row; the layout alone asked it 18 times per page,
# and the lists once or more per row. These helpers give the same strings for less.

_FIXED_URLS: dict[tuple, str] = {}


def fixed_url(endpoint: str, **values) -> str:
    """url_for(endpoint, **values) for a URL that depends only on the app and where it is
    mounted (the menu's links, the stylesheet): built once per worker and script root. Only
    for values written in the template, so the cache stays as small as the templates."""
    key = (request.script_root, endpoint, *sorted(values.items()))
    found = _FIXED_URLS.get(key)
    if found is None:
        found = _FIXED_URLS[key] = url_for(endpoint, **values)
    return found


# An id no record has, standing in for each row's own in id_url(); url_for() accepts any int.
_ID_SLOT = 9_876_543_210


def id_url(endpoint: str, key: str):
    """A function of an id giving url_for(endpoint, **{key: id}): one url_for() per page for
    a link every row has (each hospital's page, each report's edit link), the row's id then
    put in place of a placeholder."""
    prefix, _, suffix = url_for(endpoint, **{key: _ID_SLOT}).rpartition(str(_ID_SLOT))
    return lambda value: f"{prefix}{int(value)}{suffix}"


def init_app(app: Flask, **helpers) -> None:
    """The filters, and the globals every template may use: `helpers` are handed in by the
    modules that own them (the policy's can(), the field labels)."""
    app.jinja_env.filters.update(
        number=number,
        percent=percent,
        day=day,
        moment=moment,
        audit_value=audit_value,
        people_dates=people_dates,
        conflict_message=conflict_message,
    )
    app.jinja_env.globals.update(
        url_with=url_with,
        known_args=known_args,
        fixed_url=fixed_url,
        id_url=id_url,
        rules=rules,
        today=rules.today,
        **helpers,
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
