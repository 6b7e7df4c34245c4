"""CSV import of statistics reports (GET/POST /stats/import)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("imports", __name__)
