"""Password hashing: werkzeug's salted scrypt; only the hash is ever stored."""

from __future__ import annotations

import secrets
from functools import cache

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from ..models import Account


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


@cache
def _decoy_hash(method: str) -> str:
    return generate_password_hash(secrets.token_hex(16), method=method)


def password_matches(user: Account | None, password: str) -> bool:
    """Whether `password` is `user`'s. An unknown account still costs one hash check, so the
    time a sign-in takes does not tell whether an email has an account."""
    if user is None:
        check_password_hash(_decoy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        return False
    return check_password_hash(user.password_hash, password)
