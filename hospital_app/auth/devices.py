"""Known devices: a browser that has signed in to an account is given a signed cookie saying
so, and its later attempts on that account are counted against that browser alone
(throttle.py), so someone guessing elsewhere cannot lock the account's owner out.

The cookie holds, per account (at most MAX_ACCOUNTS, the newest kept: a shared computer on a
ward), the account's id, a fingerprint of its password hash and a random nonce that keys the
browser's own counter. It is signed with the app's SECRET_KEY, so it cannot be forged or
pointed at another account, and nothing about it is stored on the server: no token to keep
safe there. The fingerprint (a SHA-256 of the salted scrypt hash, cut short) tells nothing
about the password; a new password changes it, so every browser is forgotten when an
account's password is changed or reset.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..models import Account

COOKIE = "known_device"
LIFETIME = timedelta(days=180)
MAX_ACCOUNTS = 10


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="known-device")


def _fingerprint(account: Account) -> str:
    return hashlib.sha256(account.password_hash.encode()).hexdigest()[:16]


def _entries() -> list[list]:
    value = request.cookies.get(COOKIE)
    if not value:
        return []
    try:
        entries = _serializer().loads(value, max_age=int(LIFETIME.total_seconds()))
    except BadSignature:  # forged, altered, expired or signed with an old key
        return []
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, list) and len(e) == 3]


def nonce(account: Account | None) -> str | None:
    """This browser's nonce for `account`, when it has signed in to it with its current
    password before; else None."""
    if account is None:
        return None
    for account_id, fingerprint, value in _entries():
        if account_id == account.id and fingerprint == _fingerprint(account):
            return str(value)
    return None


def remember(response, account: Account):
    """Set (renew) the cookie on `response` after `account` signed in from this browser."""
    kept = [e for e in _entries() if e[0] != account.id][-(MAX_ACCOUNTS - 1) :]
    entries = [*kept, [account.id, _fingerprint(account), secrets.token_urlsafe(16)]]
    response.set_cookie(
        COOKIE,
        _serializer().dumps(entries),
        max_age=int(LIFETIME.total_seconds()),
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
        httponly=True,
        samesite="Lax",
    )
    return response
