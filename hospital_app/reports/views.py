"""The statistics list (GET /stats) and the CSV exports."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("reports", __name__)
