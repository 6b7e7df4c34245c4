"""/audit: the whole trail with filters, for administrators. The history of one hospital,
report or account is on that record's own area's pages."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from ..policy import require
from ..web import list_status
from . import queries
from .forms import RECORD_TYPES, AuditFilters
from .trail import ACTIONS, ordered_changes

bp = Blueprint("audit", __name__)

# Every page that shows entries (this area's and the history pages of the others) draws them
# with templates/audit/_entries.html, which uses these.
bp.add_app_template_filter(ordered_changes, "audit_changes")
bp.add_app_template_global(queries.hospital_names, "audit_hospital_names")
bp.add_app_template_global(ACTIONS, "audit_actions")


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
            hospital_id=int(filters.hospital.data) if filters.hospital.data else None,
            action=filters.action.data,
        )
        entries = filters.paginate(stmt)
    return render_template(
        "audit/index.html", filters=filters, entries=entries, record_types=RECORD_TYPES
    ), list_status(entries)
