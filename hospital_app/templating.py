"""Jinja filters and helpers for formatting numbers and dates for people."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import Flask, request, url_for

from . import rules


def number(value) -> str:
    return "—" if value is None else f"{value:,}"


def percent(value) -> str:
    return "—" if value is None else f"{value:.1f} %"


def day(value: date | datetime | None) -> str:
    return "—" if value is None else f"{value.day} {value:%b %Y}"


def moment(value: datetime | None) -> str:
    """A stored (naive UTC) time, in the hospitals' time zone, to the minute."""
    if value is None:
        return "—"
    local = value.replace(tzinfo=UTC).astimezone(rules.zone())
    return f"{local.day} {local:%b %Y, %H:%M}"


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
    return str(value)


def url_with(**changes) -> str:
    """This page's URL with some query arguments changed (None drops one): pagination and
    filter links keep every other argument."""
    args = request.args.to_dict()
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        number=number, percent=percent, day=day, moment=moment, audit_value=audit_value
    )
    from .audit.trail import FIELD_LABELS
    from .auth.policy import can

    app.jinja_env.globals.update(
        url_with=url_with, rules=rules, today=rules.today, can=can, field_labels=FIELD_LABELS
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
