"""/audit: the whole trail with filters, for administrators. The history of one hospital,
report or account is on that record's own area's pages."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from ..policy import require
from ..web import list_status
from . import queries
from .forms import RECORD_TYPES, AuditFilters

bp = Blueprint("audit", __name__)


@bp.get("/audit")
def index():
    require("audit.view")
    filters = AuditFilters(request.args)
    entries = None
    if filters.validate():
        stmt = queries.filtered(
            user_id=int(filters.user.data) if filters.user.data else None,
            record_type=filters.record_type.data,
            date_from=filters.date_from.data,
            date_to=filters.date_to.data,
        )
        entries = filters.paginate(stmt)
    return render_template(
        "audit/index.html", filters=filters, entries=entries, record_types=RECORD_TYPES
    ), list_status(entries)
