"""/accounts: for administrators, the list of accounts, a new account, editing one, setting
its password, deactivating and activating it, and its history. The audit trail records every
change by itself."""

from __future__ import annotations

from flask import Blueprint, flash, render_template, request
from flask_login import current_user

from ..audit import queries as audit_queries
from ..audit import trail
from ..auth import throttle
from ..auth.passwords import hash_password
from ..extensions import db
from ..models import Account
from ..password_entry import NewPasswordForm
from ..policy import require
from ..saving import Outcome, save, toggle
from ..web import ActionForm, PageArgs, flash_toggle, form_status, list_status, see_other
from . import queries
from .checks import last_administrator
from .forms import AccountForm, ListFilters, NewAccountForm

bp = Blueprint("accounts", __name__, url_prefix="/accounts")


@bp.before_request
def administrators_only():
    require("account.manage")


@bp.get("")
def index():
    filters = ListFilters(request.args)
    page, counts = None, {}
    if filters.validate():
        page = filters.paginate(queries.filtered_accounts(filters))
        counts = queries.hospital_counts(page.items)
    return render_template(
        "accounts/index.html", filters=filters, page=page, counts=counts
    ), list_status(page)


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = NewAccountForm(me=current_user)
    account = Account()

    def apply():
        account.password_hash = hash_password(form.password.data)
        form.apply(account)
        db.session.add(account)

    if save(form, account, apply) is Outcome.SAVED:
        flash(
            f"The {account.role_label.lower()} account of {account.display_name} "
            f"({account.email}) was created. Give them their password in person or by phone.",
            "success",
        )
        return see_other(".index")
    return render_template("accounts/new.html", form=form), form_status(form)


@bp.route("/<int:account_id>/edit", methods=["GET", "POST"])
def edit(account_id: int):
    account = db.get_or_404(Account, account_id)
    form = AccountForm(account=account, me=current_user)
    outcome = save(form, account, lambda: form.apply(account))
    if outcome is Outcome.UNCHANGED:
        flash("Nothing was changed.", "info")
        return see_other(".index")
    if outcome is Outcome.SAVED:
        message = f"The account of {account.display_name} ({account.email}) was saved."
        if form.unassigned:
            role = account.role_label.lower()
            message += (
                f" As {'an' if role[0] in 'aeiou' else 'a'} {role} they have no hospitals: "
                f"{', '.join(form.unassigned)} {'was' if len(form.unassigned) == 1 else 'were'} "
                "unassigned."
            )
        flash(message, "success")
        return see_other(".index")
    return render_template(
        "accounts/edit.html",
        form=form,
        account=account,
        action=ActionForm(),
        paused_until=throttle.paused_until(account.email),
    ), form_status(form)


OWN_ACCOUNT = "You cannot deactivate your own account: another administrator can."


def _set_active(account_id: int, active: bool):
    account = db.get_or_404(Account, account_id)
    form = ActionForm()
    name = account.display_name

    def apply():
        account.is_active = active
        if not active:
            # Their sessions end at their next request, on every worker.
            account.session_generation += 1

    refusal = None
    if not active:
        refusal = OWN_ACCOUNT if account.id == current_user.id else last_administrator(account)
    outcome = toggle(
        form, account, already=account.is_active == active, apply=apply, refusal=refusal
    )
    if active:
        saved = f"{name} can sign in again with their password."
    else:
        saved = (
            f"The account of {name} was deactivated: they were signed out and can no longer "
            "sign in. Activate it again from this page at any time."
        )
    flash_toggle(
        form,
        outcome,
        saved=saved,
        unchanged=f"The account of {name} is already {'active' if active else 'deactivated'}.",
        conflict_hint="Check the account below, then try again.",
    )
    return see_other(".edit", account_id=account_id)


@bp.route("/<int:account_id>/deactivate", methods=["GET", "POST"])
def deactivate(account_id: int):
    """GET asks for confirmation; POST (with the form's token and version) deactivates."""
    if request.method == "POST":
        return _set_active(account_id, False)
    account = db.get_or_404(Account, account_id)
    if account.id == current_user.id:
        flash(OWN_ACCOUNT, "error")
        return see_other(".edit", account_id=account.id)
    if not account.is_active:
        flash(f"The account of {account.display_name} is already deactivated.", "info")
        return see_other(".edit", account_id=account.id)
    return render_template(
        "accounts/deactivate.html", account=account, form=ActionForm(obj=account)
    )


@bp.post("/<int:account_id>/activate")
def activate(account_id: int):
    return _set_active(account_id, True)


@bp.post("/<int:account_id>/unblock")
def unblock(account_id: int):
    """End the pause of signing in to an account after failed attempts (auth/throttle.py),
    say for its owner on a new computer while someone keeps guessing. CSRFProtect has
    checked the token; the administrators-only rule is the blueprint's."""
    account = db.get_or_404(Account, account_id)
    name = account.display_name
    if throttle.unblock(account.email):
        trail.record(db.session, account, "unblock")
        db.session.commit()
        flash(
            f"{name} can sign in again now: the pause after failed sign-in attempts was "
            "ended. If they did not make those attempts, someone may be guessing their "
            "password.",
            "success",
        )
    else:
        flash(f"Signing in to the account of {name} is not paused: nothing was changed.", "info")
    return see_other(".edit", account_id=account.id)


@bp.route("/<int:account_id>/password", methods=["GET", "POST"])
def reset_password(account_id: int):
    account = db.get_or_404(Account, account_id)
    if account.id == current_user.id:
        # One's own password is changed where the current one is asked for.
        flash("To change your own password, use this page: it asks for your current one.", "info")
        return see_other("auth.change_password")
    form = NewPasswordForm(email=account.email)

    def apply():
        account.password_hash = hash_password(form.password.data)
        account.session_generation += 1

    if save(form, account, apply) is Outcome.SAVED:
        flash(
            f"{account.display_name} has a new password. Their sessions were ended: they sign "
            "in again with the new password. Give it to them in person or by phone.",
            "success",
        )
        return see_other(".edit", account_id=account.id)
    return render_template("accounts/password.html", form=form, account=account), form_status(form)


@bp.get("/<int:account_id>/history")
def history(account_id: int):
    account = db.get_or_404(Account, account_id)
    args = PageArgs(request.args)
    entries = None
    if args.validate():
        entries = args.paginate(audit_queries.of_record("account", account.id))
    return render_template(
        "accounts/history.html", account=account, entries=entries, args=args
    ), list_status(entries)
