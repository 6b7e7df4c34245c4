"""The network at a glance (GET /): totals, completeness, pressure and trends."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("dashboard", __name__)
