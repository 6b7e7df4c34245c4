"""Signing in and out, one's own password, and the rule that every page needs a signed-in
person. Each view commits its own work once, at its end."""

from __future__ import annotations

import time
from datetime import UTC
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select, update

from .. import rules
from ..extensions import db, login_manager
from ..models import Account, utcnow
from ..saving import Outcome, apply_and_commit
from ..web import form_status, see_other
from . import devices, throttle
from .forms import ChangePasswordForm, LoginForm
from .passwords import hash_password, password_matches

bp = Blueprint("auth", __name__)

# Reachable without signing in: the sign-in page, the health check, static files, and the
# permanent redirects of old addresses (they say only where a page moved).
PUBLIC_ENDPOINTS = {"auth.login", "system.healthz", "static", "legacy.redirect"}
BAD_CREDENTIALS = "The email or password is not right. Check both and try again."
DEACTIVATED = "This account has been deactivated. If you still need access, ask an administrator."


@login_manager.user_loader
def load_user(session_id: str) -> Account | None:
    """The session holds "id:generation"; a session whose account was deactivated, given a
    new password or signed out since it began is ended here, on every worker."""
    user_id, _, generation = session_id.partition(":")
    if not (user_id.isdigit() and generation.isdigit()):
        return None
    # A sign-in lasts one shift from the moment it was made, however busy the session was
    # (the cookie's own expiry moves on with every response that touches the session).
    signed_in_at = session.get("signed_in_at")
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    if not isinstance(signed_in_at, int) or time.time() - signed_in_at > lifetime:
        return None
    user = db.session.get(Account, int(user_id))
    if user is None or not user.is_active or user.session_generation != int(generation):
        return None
    return user


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None: never another host ('//evil.org',
    'https://evil.org', '/\\evil.org') nor a scheme such as 'javascript:'."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ch in target for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def require_login():
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    # Behind a proxy that mounts the app under a prefix, the way back includes the prefix.
    target = (
        request.script_root + request.full_path.rstrip("?") if request.method == "GET" else None
    )
    return redirect(url_for("auth.login", next=target), code=303)


def _client_address() -> str:
    # With PROXY_COUNT set, ProxyFix has put the client's own address here.
    return request.remote_addr or "unknown"


def _throttled(template: str, form, until, **context):
    """The form again, 429, saying until when sign-in is paused (UTC `until`, shown in the
    hospitals' time zone) and with Retry-After for programs."""
    seconds = max(1, int((until - utcnow()).total_seconds()))
    minutes = -(-seconds // 60)
    local = until.replace(tzinfo=UTC).astimezone(rules.zone()).strftime("%H:%M")
    form.form_errors.append(
        "Too many failed sign-in attempts. For the safety of this account, signing in is "
        f"paused until {local} (in about {minutes} minute{'s' if minutes != 1 else ''}). "
        "If you have forgotten your password, ask an administrator to reset it; an "
        "administrator can also end the pause."
    )
    page = render_template(template, form=form, **context)
    return page, 429, {"Retry-After": str(seconds)}


def _count_attempt(email: str, user: Account | None) -> throttle.Attempt:
    """Count an attempt at `email`'s password before it is checked (throttle.begin)."""
    device = devices.nonce(user)
    # Nothing is changed yet: ending the request's read transaction gives its connection
    # back, so the count, on a connection of its own, never holds a second one (a small
    # pool cannot run dry) and sees what other workers committed.
    db.session.commit()
    return throttle.begin(email, _client_address(), device)


def _update_account_quietly(account_id: int, **values) -> None:
    """A plain UPDATE of an account for what is not an edit of it (signing in or out): it
    neither raises the row's version (which would upset an administrator editing the account)
    nor enters the audit trail, and it keeps updated_at, which its onupdate default would
    otherwise move."""
    db.session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(**values, updated_at=Account.updated_at)
    )


def home(user) -> str:
    """Where a person starts: an editor at their day's data entry, the others on the
    dashboard."""
    return url_for("entry.index" if user.role == "editor" else "dashboard.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or home(current_user), code=303)
    form = LoginForm()
    status = form_status(form)
    if form.validate_on_submit():
        email = form.email.data
        user = db.session.scalar(select(Account).where(Account.email == email))
        # Counted before the password is checked, so guessing past the limit gains nothing.
        attempt = _count_attempt(email, user)
        if attempt.refused_until is not None:
            return _throttled("auth/login.html", form, attempt.refused_until, next_url=next_url)
        if not password_matches(user, form.password.data):
            form.form_errors.append(BAD_CREDENTIALS)
        elif not user.is_active:
            throttle.succeeded(attempt)  # the password was right: not a guess
            db.session.commit()
            form.form_errors.append(DEACTIVATED)
            status = 403
        else:
            throttle.succeeded(attempt)
            _update_account_quietly(user.id, last_login_at=utcnow())
            db.session.commit()
            # A new session: nothing from before signing in (say, a planted CSRF token)
            # carries over.
            session.clear()
            login_user(user)
            session.permanent = True
            session["signed_in_at"] = int(time.time())
            flash(f"Signed in as {user.display_name}.", "success")
            # This browser is now known for this account: guessing elsewhere cannot lock it.
            return devices.remember(redirect(next_url or home(user), code=303), user)
    no_accounts = not db.session.scalar(select(func.count()).select_from(Account))
    return render_template(
        "auth/login.html", form=form, next_url=next_url, no_accounts=no_accounts
    ), status


@bp.post("/logout")
def logout():
    # CSRFProtect has checked the form's token before this runs. The session lives in a
    # signed cookie, so forgetting it here is not enough: a copy taken earlier would still
    # open pages. Raising the generation ends it on the server, with the account's other
    # sessions.
    _update_account_quietly(current_user.id, session_generation=Account.session_generation + 1)
    db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "success")
    return see_other("auth.login")


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():
    # The account itself, not the proxy: login_user() below stores what it is given, and a
    # proxy stored there would resolve to itself.
    user: Account = current_user._get_current_object()
    form = ChangePasswordForm(email=user.email)
    if not form.validate_on_submit():
        return render_template("auth/password.html", form=form), form_status(form)
    # Guessing the current password from an open session counts as failed sign-ins.
    attempt = _count_attempt(user.email, user)
    if attempt.refused_until is not None:
        return _throttled("auth/password.html", form, attempt.refused_until)
    if not password_matches(user, form.current.data):
        form.current.errors.append("This is not your current password.")
        return render_template("auth/password.html", form=form), 422
    throttle.succeeded(attempt)
    db.session.commit()
    if password_matches(user, form.password.data):
        form.password.errors.append("Choose a password different from the current one.")
        return render_template("auth/password.html", form=form), 422

    def apply():
        user.password_hash = hash_password(form.password.data)
        # Sessions elsewhere (another browser, a lost phone) end; this one goes on.
        user.session_generation += 1

    if apply_and_commit(form, user, apply) is Outcome.SAVED:
        login_user(user)
        flash("Your password was changed. Your other sessions were signed out.", "success")
        # The new password forgets every known browser (devices.py); this one stays known.
        return devices.remember(see_other("dashboard.index"), user)
    return render_template("auth/password.html", form=form), form_status(form)


def init_app(app: Flask) -> None:
    app.before_request(require_login)
