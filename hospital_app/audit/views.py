"""The audit trail's pages: a record's history, and /audit for administrators."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("audit", __name__)
