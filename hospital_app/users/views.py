"""/users: accounts, for administrators."""

from __future__ import annotations

from flask import Blueprint

from ..auth.policy import require

bp = Blueprint("users", __name__, url_prefix="/users")


@bp.before_request
def administrators_only():
    require("users.manage")


@bp.get("")
def index():
    return "accounts"  # placeholder until the accounts pages land
