"""/users: accounts, for administrators: the list, a new account, editing one, its password,
deactivating and activating it. The audit trail records every change by itself."""

from __future__ import annotations

from flask import Blueprint, flash, render_template, request
from flask_login import current_user
from sqlalchemy import func, select

from ..auth.forms import NewPasswordForm
from ..auth.passwords import hash_password
from ..auth.policy import require
from ..conflicts import changed_since_opened, explain
from ..database import commit_form
from ..extensions import db
from ..models import User, hospital_editors
from ..web import ActionForm, form_status, see_other
from .forms import AccountForm, ListFilters, NewAccountForm

bp = Blueprint("users", __name__, url_prefix="/users")


@bp.before_request
def administrators_only():
    require("users.manage")


def filtered_users(filters: ListFilters):
    stmt = select(User)
    if filters.role.data:
        stmt = stmt.where(User.role == filters.role.data)
    if filters.status.data == "active":
        stmt = stmt.where(User.is_active.is_(True))
    elif filters.status.data == "deactivated":
        stmt = stmt.where(User.is_active.is_(False))
    return stmt


def hospital_counts(users: list[User]) -> dict[int, int]:
    """{user id: number of assigned hospitals} for the accounts of one page, in one query."""
    if not users:
        return {}
    rows = db.session.execute(
        select(hospital_editors.c.user_id, func.count())
        .where(hospital_editors.c.user_id.in_([u.id for u in users]))
        .group_by(hospital_editors.c.user_id)
    )
    return {user_id: n for user_id, n in rows}


@bp.get("")
def index():
    filters = ListFilters(request.args)
    page, counts = None, {}
    if filters.validate():
        page = filters.paginate(
            filtered_users(filters).order_by(User.display_name, User.email, User.id)
        )
        counts = hospital_counts(page.items)
    return render_template("users/index.html", filters=filters, page=page, counts=counts), (
        200 if page is not None else 400
    )


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = NewAccountForm(me=current_user)
    if form.validate_on_submit():
        user = User(password_hash=hash_password(form.password.data))
        form.apply(user)
        db.session.add(user)
        if commit_form(form):
            flash(
                f"The {user.role_label.lower()} account of {user.display_name} ({user.email}) "
                "was created. Give them their password in person or by phone.",
                "success",
            )
            return see_other(".index")
    return render_template("users/new.html", form=form), form_status(form)


@bp.route("/<int:user_id>/edit", methods=["GET", "POST"])
def edit(user_id: int):
    user = db.get_or_404(User, user_id)
    form = AccountForm(user=user, me=current_user)
    if form.validate_on_submit():
        compare = form.compared_values()
        if changed_since_opened(form, user):
            explain(form, user, compare)
        else:
            form.apply(user)
            if not db.session.is_modified(user):
                flash("Nothing was changed.", "info")
                return see_other(".index")
            if commit_form(form, user, compare):
                flash(f"The account of {user.display_name} ({user.email}) was saved.", "success")
                return see_other(".index")
    return render_template(
        "users/edit.html", form=form, user=user, action=ActionForm()
    ), form_status(form)


def _set_active(user_id: int, active: bool):
    user = db.get_or_404(User, user_id)
    form = ActionForm()
    if not form.validate():
        flash(f"{' '.join(form.form_errors)} Nothing was changed.", "error")
    elif not active and user.id == current_user.id:
        flash(
            "You cannot deactivate your own account: another administrator can.",
            "error",
        )
    elif user.is_active == active:
        state = "active" if active else "deactivated"
        flash(f"The account of {user.display_name} is already {state}.", "info")
    elif changed_since_opened(form, user):
        explain(form, user)
        flash(f"{' '.join(form.form_errors)} Check the account below, then try again.", "error")
    else:
        user.is_active = active
        if not active:
            # Their sessions end at their next request, on every worker.
            user.session_generation += 1
        name = user.display_name
        if commit_form(form, user):
            if active:
                flash(f"{name} can sign in again with their password.", "success")
            else:
                flash(
                    f"The account of {name} was deactivated: they were signed out and can no "
                    "longer sign in. Activate it again from this page at any time.",
                    "success",
                )
        else:
            flash(" ".join(form.form_errors), "error")
    return see_other(".edit", user_id=user_id)


@bp.post("/<int:user_id>/deactivate")
def deactivate(user_id: int):
    return _set_active(user_id, False)


@bp.post("/<int:user_id>/activate")
def activate(user_id: int):
    return _set_active(user_id, True)


@bp.route("/<int:user_id>/password", methods=["GET", "POST"])
def reset_password(user_id: int):
    user = db.get_or_404(User, user_id)
    if user.id == current_user.id:
        # One's own password is changed where the current one is asked for.
        flash("To change your own password, use this page: it asks for your current one.", "info")
        return see_other("auth.change_password")
    form = NewPasswordForm(email=user.email)
    if form.validate_on_submit():
        user.password_hash = hash_password(form.password.data)
        user.session_generation += 1
        if commit_form(form):
            flash(
                f"{user.display_name} has a new password. Their sessions were ended: they sign "
                "in again with the new password. Give it to them in person or by phone.",
                "success",
            )
            return see_other(".edit", user_id=user.id)
    return render_template("users/password.html", form=form, user=user), form_status(form)
