"""/settings: the reporting cycle's settings (when a day's report is due, when a day closes
for editors), and the exceptions that open closed days again for one hospital. For
administrators only (policy "settings.manage")."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, flash, render_template, request

from .. import cycle, rules
from ..conflicts import last_change
from ..extensions import db
from ..models import ClosingException, Hospital, ReportingSettings
from ..policy import require
from ..saving import Outcome, save, toggle
from ..templating import moment
from ..web import ActionForm, PageArgs, flash_toggle, form_status, list_status, see_other
from . import queries
from .forms import ExceptionForm, SettingsForm

bp = Blueprint("settings", __name__, url_prefix="/settings")


def zone_name() -> str:
    return current_app.config.get("TIMEZONE") or "the server's"


def deadline_words(s: ReportingSettings) -> str:
    """ "Day D's report is due by 12:00 on the next day (Europe/Paris time)." """
    day = rules.DEADLINE_DAY_OFFSETS.get(s.deadline_day_offset, "")
    return (
        f"Day D's report is due by {s.deadline_time:%H:%M} on {day} ({zone_name()} time). "
        "A report first saved after that is late."
    )


def closing_words(s: ReportingSettings) -> str:
    """When a day closes for editors, in words."""
    if s.close_after_days is None:
        return "Days never close: editors can add, change and delete reports of any day."
    if s.close_after_days == 0:
        return "Reports for days before today are closed for editors."
    days = "day" if s.close_after_days == 1 else "days"
    return f"Reports for days more than {s.close_after_days} {days} ago are closed for editors."


@bp.route("", methods=["GET", "POST"])
def index():
    require("settings.manage")
    stored = queries.stored_settings()
    shown = stored or cycle.defaults()
    form = SettingsForm(settings=shown)
    record = stored or ReportingSettings(id=cycle.SETTINGS_ID)

    def apply():
        form.apply(record)
        db.session.add(record)

    outcome = save(form, record, apply)
    if outcome in (Outcome.SAVED, Outcome.UNCHANGED):
        # The rest of this request (and every later one) reads the new settings.
        cycle.forget_settings()
        if outcome is Outcome.SAVED:
            flash(
                "The reporting settings were saved. "
                f"{deadline_words(record)} {closing_words(record)}",
                "success",
            )
        else:
            flash("Nothing was changed.", "info")
        return see_other(".index")
    in_force = cycle.settings()
    today = cycle.local_today()
    return render_template(
        "settings/index.html",
        form=form,
        stored=stored,
        in_force=in_force,
        deadline_words=deadline_words(in_force),
        closing_words=closing_words(in_force),
        local_today=today,
        newest_closed=(
            None
            if in_force.close_after_days is None
            else today - timedelta(days=in_force.close_after_days + 1)
        ),
        last=last_change("settings", cycle.SETTINGS_ID) if stored else None,
        open_exceptions=queries.open_count(cycle.clock()),
    ), form_status(form)


@bp.get("/exceptions")
def exceptions():
    require("settings.manage")
    args = PageArgs(request.args)
    now = cycle.clock()
    page = args.paginate(queries.exceptions_open_first(now)) if args.validate() else None
    return render_template(
        "settings/exceptions.html",
        page=page,
        args=args,
        now=now,
        authors=queries.authors(page.items) if page else {},
        # One button per open exception, each with the version its row shows.
        actions={e.id: ActionForm(formdata=None, obj=e) for e in (page.items if page else [])},
    ), list_status(page)


@bp.route("/exceptions/new", methods=["GET", "POST"])
def new_exception():
    require("settings.manage")
    form = ExceptionForm()
    exception = ClosingException()

    def apply():
        form.apply(exception)
        db.session.add(exception)

    if save(form, exception, apply) is Outcome.SAVED:
        h = db.session.get(Hospital, exception.hospital_id)
        flash(
            f"{h.code} {h.name}: the days {rules.day_text(exception.date_from)} to "
            f"{rules.day_text(exception.date_to)} are open to its editors until "
            f"{moment(exception.ends_at)}.",
            "success",
        )
        return see_other(".exceptions")
    return render_template("settings/new_exception.html", form=form), form_status(form)


@bp.post("/exceptions/<int:exception_id>/end")
def end_exception(exception_id: int):
    exception = queries.exception_or_404(exception_id)
    require("settings.manage")
    form = ActionForm()
    now = cycle.clock()
    when = exception.ended_at or exception.ends_at
    outcome = toggle(
        form,
        exception,
        already=not exception.is_open(now),
        apply=lambda: setattr(exception, "ended_at", now),
    )
    flash_toggle(
        form,
        outcome,
        saved="The exception was ended: its days are closed to the hospital's editors again.",
        unchanged=f"This exception is already closed (since {moment(when)}).",
        conflict_hint="Check the exception below, then try again.",
    )
    return see_other(".exceptions")
