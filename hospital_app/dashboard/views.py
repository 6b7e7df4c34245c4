"""The network at a glance (GET /): totals, completeness, pressure and trends; and the full
lists the dashboard shows the start of (/dashboard/missing, /pressure, /outliers)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, render_template, request
from flask_login import current_user

from ..policy import assigned_hospital_ids
from . import queries
from .forms import DashboardArgs

bp = Blueprint("dashboard", __name__)

# The dashboard shows the start of each list; the rest is one link away, paginated.
SHOWN = 20


def own_hospitals() -> frozenset[int]:
    """An editor's hospitals, listed first among those still to report."""
    if current_user.role == "editor":
        return assigned_hospital_ids(current_user)
    return frozenset()


@bp.get("/")
def index():
    args = DashboardArgs(request.args)
    if not args.validate():
        return render_template("dashboard/index.html", args=args, data=None), 400
    day = args.day
    missing, _ = queries.first(queries.missing_hospitals(day, own_hospitals()), SHOWN)
    pressure, pressure_count = queries.first(queries.under_pressure(day, args.tenths), SHOWN)
    outliers, outlier_count = queries.first(queries.confirmed_outliers(day), SHOWN)
    network_chart, beds_chart, icu_chart = queries.trends(day, args.period)
    totals, regions, archived_reports = queries.day_totals(day)
    data = {
        "totals": totals,
        "deadline": queries.deadline_ahead(day),
        "regions": regions,
        "archived_reports": archived_reports,
        "missing": missing,
        "pressure": pressure,
        "pressure_count": pressure_count,
        "outliers": outliers,
        "outlier_count": outlier_count,
        "confirmed_by": queries.confirmed_by(outliers),
        "outliers_since": day - timedelta(days=queries.OUTLIER_DAYS),
        "network_chart": network_chart,
        "region_charts": (beds_chart, icu_chart),
    }
    return render_template("dashboard/index.html", args=args, data=data, shown=SHOWN)


def _full_list(kind: str, stmt_for):
    args = DashboardArgs(request.args)
    page = args.paginate(stmt_for(args)) if args.validate() else None
    confirmed_by = {}
    if kind == "outliers" and page is not None:
        confirmed_by = queries.confirmed_by(page.items)
    return render_template(
        "dashboard/list.html", kind=kind, args=args, page=page, confirmed_by=confirmed_by
    ), (200 if page is not None else 400)


@bp.get("/dashboard/missing")
def missing():
    return _full_list("missing", lambda args: queries.missing_hospitals(args.day, own_hospitals()))


@bp.get("/dashboard/pressure")
def pressure():
    return _full_list("pressure", lambda args: queries.under_pressure(args.day, args.tenths))


@bp.get("/dashboard/outliers")
def outliers():
    return _full_list("outliers", lambda args: queries.confirmed_outliers(args.day))
