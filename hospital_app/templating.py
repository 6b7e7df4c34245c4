"""Jinja filters and helpers for formatting numbers and dates for people."""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask, request, url_for

from . import rules


def number(value) -> str:
    return "—" if value is None else f"{value:,}"


def percent(value) -> str:
    return "—" if value is None else f"{value:.1f} %"


def day(value: date | datetime | None) -> str:
    return "—" if value is None else f"{value.day} {value:%b %Y}"


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
    app.jinja_env.filters.update(number=number, percent=percent, day=day)
    from .auth.policy import can

    app.jinja_env.globals.update(url_with=url_with, rules=rules, today=rules.today, can=can)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
