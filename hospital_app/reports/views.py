"""/reports: the list of every hospital's daily reports and its CSV export; a new report of a
hospital (/hospitals/<id>/reports/new), editing and deleting one, its history; and the CSV
import (/reports/import) with its template file.

The list's export runs the very function that filters and sorts the list, with the same query
string, so it holds exactly the rows of every page of that list.
"""

from __future__ import annotations

import io
import re
import unicodedata

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    render_template,
    request,
)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import contains_eager
from werkzeug.exceptions import RequestEntityTooLarge

from .. import policy, rules
from ..audit import queries as audit_queries
from ..audit import versions
from ..audit.trail import mark_as
from ..conflicts import last_change
from ..csvfiles import csv_response, neutralise
from ..cycle import FIRST_SAVED_AT
from ..entry import queries as entry_queries
from ..errors import http_error_page
from ..extensions import csrf, db
from ..hospitals.queries import regions_in_use, with_latest_report
from ..models import Hospital, Report
from ..report_entry import ReportForm
from ..saving import Outcome, apply_and_commit, insert, save, toggle
from ..templating import day, moment
from ..web import (
    ActionForm,
    PageArgs,
    action_problem,
    export_args,
    form_status,
    list_status,
    see_other,
)
from . import queries
from .forms import CheckedFileForm, ImportForm, ReportFilters
from .importer import (
    CLASH_ERRORS,
    CLASH_MESSAGE,
    COLUMNS,
    HEADER_LINE,
    ImportResult,
    import_reports,
    template_csv,
)

bp = Blueprint("reports", __name__)


# --- The list and its export -----------------------------------------------------------------


def _filters() -> ReportFilters:
    return ReportFilters(
        request.args, hospitals=queries.hospital_choices(), regions=regions_in_use()
    )


@bp.get("/reports")
def index():
    filters = _filters()
    page, signed_off = None, 0
    if filters.validate():
        stmt = queries.filtered_reports(filters).options(contains_eager(Report.hospital))
        if (counts := queries.counted(filters)) is None:
            page = filters.paginate(stmt)
            if page.total:
                signed_off = queries.signed_off_count(queries.filtered_reports(filters))
        else:
            total, signed_off = counts
            page = filters.paginate(stmt, total=total)
    return render_template(
        "reports/index.html",
        filters=filters,
        page=page,
        signed_off=signed_off,
        export_args=export_args(),
    ), list_status(page)


def _slug(text: str) -> str:
    """ASCII letters, digits and hyphens: safe in a file name on every system."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _export_filename(filters: ReportFilters) -> str:
    parts = ["reports"]
    if filters.hospital.data:
        parts.append(_slug(filters.hospital.data))
    if filters.region.data:
        parts.append(_slug(filters.region.data) or "region")
    if filters.date_from.data:
        parts.append(f"from-{filters.date_from.data.isoformat()}")
    if filters.date_to.data:
        parts.append(f"to-{filters.date_to.data.isoformat()}")
    if len(parts) == 1:
        parts.append("all")
    parts.append(rules.today().isoformat())
    return "-".join(parts) + ".csv"


@bp.get("/reports/export.csv")
def export():
    """Every report of the list with the same query string, in the import's format."""
    filters = _filters()
    if not filters.validate():
        return render_template(
            "reports/index.html", filters=filters, page=None, export_args={}
        ), 400
    columns = [getattr(Report, name) for name in rules.COUNT_FIELDS]
    stmt = queries.filtered_reports(filters).with_only_columns(
        Hospital.code, Report.report_date, *columns, Report.notes
    )

    def cells(row):
        code, day, *counts, notes = row
        return [neutralise(code), day.isoformat(), *counts, neutralise(notes)]

    return csv_response(_export_filename(filters), COLUMNS, stmt, cells)


# --- One report: new, edit, delete, history --------------------------------------------------


def _require_write(hospital: Hospital, report_day=None) -> None:
    """Stop unless the person may add, change or delete `hospital`'s reports (of
    `report_day`, a stored report's day, which may be closed): the policy's decision. An
    archived hospital gets its own page, with the way back for those who may restore it."""
    refusal = policy.refusal(current_user, "report.write", hospital, day=report_day)
    if refusal is None:
        return
    if refusal.status == 409:  # the hospital's state, not the person's role
        page = render_template(
            "reports/archived.html", hospital=hospital, reason=refusal.reason, action=ActionForm()
        )
        abort(make_response(page, 409))
    abort(refusal.status, description=refusal.reason)


def _refuse_closed_day(form: ReportForm, hospital: Hospital) -> bool:
    """The day typed in the form, asked of the policy (an editor may not write a closed day):
    its refusal goes beside the date, which is what to change. True when refused."""
    typed = form.report_date.data
    if typed is None:
        return False
    # Asked even when the date has an error already (a report of that date exists): that
    # report may be signed off, or its day closed, which is what the person must know.
    refusal = policy.refusal(current_user, "report.write", hospital, day=typed)
    if refusal is None:
        return False
    form.report_date.errors = [*form.report_date.errors, refusal.reason]
    return True


def _report_or_404(report_id: int) -> Report:
    report = queries.report_with_hospital(report_id)
    if report is None:
        # Someone deleted it while this person had it open: say who and when, not just 404.
        entry = last_change("report", report_id)
        if entry is not None and entry.action == "delete":
            abort(make_response(render_template("reports/gone.html", entry=entry), 410))
        abort(404)
    return report


def _asked_date():
    """A usable ?date=, else None (the form then starts at today, as without one)."""
    try:
        asked = rules.parse_report_date(request.args.get("date"))
    except ValueError:
        return None
    return None if rules.report_date_errors(asked) else asked


def _start_from_previous(form: ReportForm, hospital: Hospital) -> None:
    """A new report's form, before anything is typed: the day asked for (?date=, as the
    dashboard's missing list links), and the capacity of the hospital's newest report."""
    asked = _asked_date()
    if asked is not None:
        form.report_date.data = asked
    previous = queries.latest_report(hospital.id)
    if previous is not None:
        # Capacity rarely changes from one day to the next; the clerk types only what did.
        for name in rules.CAPACITY_FIELDS:
            form[name].data = getattr(previous, name)
        if previous.report_date == form.report_date.data:
            form.existing_report_id = previous.id  # today's is in: say so before typing


def _entry_query(day) -> dict | None:
    """The data-entry page's arguments for `day` when the form was opened from that page
    (?entry=1, with its region if one was chosen); None otherwise."""
    if request.args.get("entry") != "1":
        return None
    query = {"date": day.isoformat()}
    if request.args.get("region"):
        query["region"] = request.args["region"]
    return query


def _back_to_entry(hospital: Hospital, day, then_next: bool) -> Response:
    """After a report saved from the data-entry page: the next hospital still to do for
    that day ("Save and next hospital"), or the entry page, which says when the day is
    complete."""
    query = _entry_query(day)
    if then_next:
        following = entry_queries.next_to_do(current_user, day, hospital, query.get("region"))
        if following is not None:
            return see_other("reports.new", hospital_id=following, entry=1, **query)
    return see_other("entry.index", **query)


@bp.route("/hospitals/<int:hospital_id>/reports/new", methods=["GET", "POST"])
def new(hospital_id: int):
    # On POST, a shared lock on the hospital row: an archive saved at the same moment waits
    # for this report's commit, or is seen here (PostgreSQL, MariaDB; SQLite has one writer).
    hospital = db.get_or_404(
        Hospital, hospital_id, with_for_update={"read": True} if request.method == "POST" else None
    )
    _require_write(hospital)
    form = ReportForm(hospital_id=hospital.id)
    closed_notice = None
    if not form.is_submitted():
        _start_from_previous(form, hospital)
        asked = policy.refusal(current_user, "report.write", hospital, day=form.report_date.data)
        closed_notice = asked.reason if asked is not None else None
    report = Report(hospital_id=hospital.id)

    def apply():
        form.apply_report(report)
        db.session.add(report)

    # Validated first, so every field's errors show at once; the day is then asked of the
    # policy before anything is saved.
    valid = form.validate_on_submit()
    refused = form.is_submitted() and _refuse_closed_day(form, hospital)
    outcome = apply_and_commit(form, report, apply) if valid and not refused else None
    if outcome is Outcome.SAVED:
        flash(
            f"The report for {day(report.report_date)} was added to {hospital.name}.",
            "success",
        )
        if _entry_query(report.report_date) is not None:
            return _back_to_entry(hospital, report.report_date, request.form.get("then") == "next")
        return see_other("hospitals.detail", hospital_id=hospital.id)
    return render_template(
        "reports/new.html",
        form=form,
        hospital=hospital,
        entry=_entry_query(form.report_date.data or rules.today()),
        closed_notice=closed_notice,
    ), (403 if refused else form_status(form))


@bp.route("/reports/<int:report_id>/edit", methods=["GET", "POST"])
def edit(report_id: int):
    report = _report_or_404(report_id)
    hospital = report.hospital
    _require_write(hospital, report.report_date)
    form = ReportForm(obj=report, hospital_id=report.hospital_id, report_id=report.id)
    # The stored day was asked above; the day typed may move the report into a closed one.
    valid = form.validate_on_submit()
    refused = form.is_submitted() and _refuse_closed_day(form, hospital)
    outcome = None
    if valid and not refused:
        outcome = apply_and_commit(form, report, lambda: form.apply_report(report))
    if outcome in (Outcome.UNCHANGED, Outcome.SAVED):
        if outcome is Outcome.UNCHANGED:
            flash("Nothing was changed.", "info")
        else:
            flash(
                f"The report for {day(report.report_date)} of {hospital.name} was saved.",
                "success",
            )
        if _entry_query(report.report_date) is not None:
            return _back_to_entry(hospital, report.report_date, then_next=False)
        return see_other("hospitals.detail", hospital_id=hospital.id)
    return render_template(
        "reports/edit.html",
        form=form,
        report=report,
        hospital=hospital,
        entry=_entry_query(report.report_date),
    ), (403 if refused else form_status(form))


@bp.route("/reports/<int:report_id>/delete", methods=["GET", "POST"])
def delete(report_id: int):
    """GET asks for confirmation; POST (with the form's token) deletes."""
    report = _report_or_404(report_id)
    hospital = report.hospital
    _require_write(hospital, report.report_date)
    form = ActionForm(obj=report)
    when = day(report.report_date)
    outcome = save(form, report, lambda: db.session.delete(report))
    if outcome is Outcome.SAVED:
        flash(f"The report for {when} of {hospital.name} was deleted.", "success")
        return see_other("hospitals.detail", hospital_id=hospital.id)
    if outcome is Outcome.CONFLICT and form.conflict.deleted:
        flash(action_problem(form, "Nothing is left to delete."), "error")
        return see_other("hospitals.detail", hospital_id=hospital.id)
    # Asked to confirm (200), again after someone else's change, with the report as it is
    # stored now (409), or with a damaged form (422).
    return render_template(
        "reports/delete.html", form=form, report=report, hospital=hospital
    ), form_status(form)


@bp.get("/reports/<int:report_id>/history")
def history(report_id: int):
    """Works for a deleted report too: its trail outlives it."""
    report = db.session.get(Report, report_id)
    hospital_id = (
        report.hospital_id
        if report is not None
        else audit_queries.hospital_of_deleted_report(report_id)
    )
    if hospital_id is None:
        abort(404)
    args = PageArgs(request.args)
    entries = None
    if args.validate():
        entries = args.paginate(audit_queries.of_record("report", report_id))
    hospital = db.session.get(Hospital, hospital_id)
    deleted = versions.deleted_version(report_id) if report is None else None
    return render_template(
        "reports/history.html",
        entries=entries,
        args=args,
        report=report,
        report_id=report_id,
        hospital=hospital,
        # The buttons: restore a deleted report, put back the version after an entry.
        restorable=deleted is not None
        and policy.can("report.restore", hospital, deleted.values["report_date"]),
        revertible=report is not None and policy.can("report.revert", hospital, report.report_date),
        revert_actions=versions.REVERTIBLE,
        action=ActionForm(obj=report) if report is not None else ActionForm(),
    ), list_status(entries)


# --- Restore and revert, from a report's history (audit/versions.py) --------------------------


def _restore_refused(message: str, current: Report | None = None):
    page = render_template("reports/restore_refused.html", message=message, current=current)
    abort(make_response(page, 409))


@bp.post("/reports/<int:report_id>/restore")
def restore(report_id: int):
    """Bring back a deleted report, with the values its deletion recorded, under its own
    number (its history goes on). Not over a report stored for its day since."""
    if db.session.get(Report, report_id) is not None:
        last = last_change("report", report_id)
        if last is not None and last.action == "restored":
            _restore_refused(
                f"This report was restored already, by {last.actor} at {moment(last.created_at)}."
            )
        _restore_refused("This report is not deleted: there is nothing to restore.")
    hospital_id = audit_queries.hospital_of_deleted_report(report_id)
    version = versions.deleted_version(report_id)
    if hospital_id is None or version is None:
        abort(404)
    hospital = db.get_or_404(Hospital, hospital_id)
    policy.require("report.restore", hospital, version.values["report_date"])
    form = ActionForm()
    report = Report(id=report_id, **version.values)
    report.__dict__[FIRST_SAVED_AT] = version.first_saved_at
    when = day(report.report_date)
    clash = _report_of_day(hospital.id, report.report_date)
    if clash is not None:
        _filled_again(hospital, when, clash)
    mark_as(report, "restored")
    outcome = insert(form, report)
    if outcome is Outcome.INVALID:
        abort(400, description=" ".join(form.form_errors) or "The form was damaged.")
    if outcome is Outcome.CONFLICT:
        # Restored, or the day filled, by someone else between the check and the insert.
        if db.session.get(Report, report_id) is not None:
            _restore_refused("This report was restored already, meanwhile.")
        clash = _report_of_day(hospital.id, report.report_date)
        if clash is None:
            raise RuntimeError("restore refused by the database for no known reason")
        _filled_again(hospital, when, clash)
    flash(f"The report for {when} was restored to {hospital.name}.", "success")
    return see_other("reports.history", report_id=report_id)


def _report_of_day(hospital_id: int, report_date) -> Report | None:
    return db.session.scalar(
        select(Report).where(Report.hospital_id == hospital_id, Report.report_date == report_date)
    )


def _filled_again(hospital: Hospital, when: str, current: Report):
    _restore_refused(
        f"{hospital.name} already has a report for {when}, saved after this one was deleted: "
        "restoring would overwrite it.",
        current,
    )


@bp.post("/reports/<int:report_id>/revert/<int:entry_id>")
def revert(report_id: int, entry_id: int):
    """Put back the report's figures as they were just after the entry `entry_id` of its
    history: version-checked like every edit."""
    report = _report_or_404(report_id)
    hospital = report.hospital
    version = versions.version_after(report_id, entry_id)
    if version is None:
        abort(404)
    # Both days: the one the report has, and the one the version puts back.
    policy.require("report.revert", hospital, report.report_date)
    policy.require("report.revert", hospital, version.values["report_date"])
    form = ActionForm()
    current = {field: getattr(report, field) for field in version.values}
    when = version.when
    clash = _report_of_day(hospital.id, version.values["report_date"])
    if clash is not None and clash.id != report.id:
        _restore_refused(
            f"{hospital.name} has another report for {day(clash.report_date)} now, the day "
            f"of the version of {when}: putting it back would overwrite that report.",
            clash,
        )

    def apply():
        for field, value in version.values.items():
            setattr(report, field, value)
        mark_as(report, "reverted", reverted_to=when)

    outcome = toggle(form, report, already=current == version.values, apply=apply)
    if outcome is Outcome.SAVED:
        flash(f"The figures of {when} were put back.", "success")
    elif outcome is Outcome.UNCHANGED:
        flash(f"Nothing was changed: the report has the figures of {when} already.", "info")
    elif outcome is Outcome.INVALID:
        abort(400, description=" ".join(form.form_errors) or "The form was damaged.")
    else:
        hint = "Look at its history again before putting back a version."
        abort(409, description=action_problem(form, hint).removesuffix(" Nothing was changed."))
    return see_other("reports.history", report_id=report_id)


# --- The CSV import --------------------------------------------------------------------------


def _limit_mb() -> str:
    return f"{current_app.config['IMPORT_MAX_BYTES'] / (1024 * 1024):g} MB"


def _counts(result: ImportResult) -> str:
    return (
        f"{result.new:,} new, {result.updated:,} updated, "
        f"{result.unchanged:,} unchanged (identical, left alone)"
    )


def _read_as(result: ImportResult) -> str:
    """Said when the file was not the usual comma-separated kind, so nobody is surprised."""
    return f" from a {result.delimiter_name}-separated file" if result.delimiter != "," else ""


def _unusual(result: ImportResult) -> str:
    rows = f"{result.unusual_rows:,} row{'s' if result.unusual_rows != 1 else ''}"
    return (
        f"{rows} had figures far from their hospital's recent history: they were imported "
        "and marked “Confirmed unusual” for follow-up on the dashboard."
    )


# A checked file is sent back in the page (base64, a third larger) by the "Import these
# reports" button; beyond this the page would be slow to load and to send, and the person
# chooses the file again instead.
CARRY_MAX_BYTES = 4 * 1024 * 1024


def _carry(stream, filename: str, result: ImportResult) -> CheckedFileForm | None:
    """The button that imports the file just checked, or None when the file is too large to
    travel in the page (under the import's own limit too, once encoded)."""
    room = (current_app.config["IMPORT_MAX_BYTES"] - 64 * 1024) * 3 // 4
    limit = max(0, min(CARRY_MAX_BYTES, room))
    stream.seek(0)
    data = stream.read(limit + 1)
    if len(data) > limit:
        return None
    carry = CheckedFileForm(formdata=None)
    carry.fill(data, filename, (result.new, result.updated, result.unchanged))
    return carry


def _changed_since_check(checked: tuple[int, ...] | None, result: ImportResult) -> str | None:
    """Said when the data moved between the check and the import (someone saved a report of
    the file's hospitals and dates meanwhile): the counts then differ from the check's."""
    now = (result.new, result.updated, result.unchanged)
    if checked is None or checked == now:
        return None
    new, updated, unchanged = checked
    return (
        "Reports of this file's hospitals and dates changed between the check and the import: "
        f"the check counted {new:,} new, {updated:,} updated and {unchanged:,} unchanged."
    )


@bp.route("/reports/import", methods=["GET", "POST"])
@csrf.exempt  # checked below, once the larger size limit is set
def import_file():
    policy.require("report.import")
    if request.method == "POST":
        # Set before anything reads the body: the app's MAX_CONTENT_LENGTH is for forms, and
        # the global CSRF check would parse the body under it (hence the exemption above).
        limit = current_app.config["IMPORT_MAX_BYTES"]
        request.max_content_length = limit
        # A checked file comes back in a form field (CheckedFileForm), not as a file.
        request.max_form_memory_size = limit
        csrf.protect()
    form = ImportForm()
    checked = CheckedFileForm()
    upload = None  # (stream, file name, dry run, the check's counts)
    if checked.sent():
        if checked.validate():
            upload = (
                io.BytesIO(checked.data_bytes),
                checked.filename.data or "",
                False,
                checked.checked_counts(),
            )
        else:
            form.form_errors.extend(checked.form_errors)
    elif form.validate_on_submit():
        # The name is only shown (it may be anything the browser sent): kept short.
        name = rules.clip(rules.without_forbidden(form.file.data.filename or ""), 100)
        upload = (form.file.data.stream, name, form.dry_run.data, None)
    result = None
    carry = None
    status = 422 if request.method == "POST" else 200
    if upload is not None:
        stream, filename, dry_run, checked_counts = upload
        try:
            result = import_reports(stream, actor=current_user, dry_run=dry_run)
            if result.ok and not result.dry_run:
                # The one commit of an import: every row, or (above) none.
                db.session.commit()
                what = f"{result.rows_text}{_read_as(result)}"
                if checked_counts is not None:
                    named = f"“{filename}”, " if filename else ""
                    what = f"{result.rows_text} of {named}the file you checked"
                flash(f"Imported {what}: {_counts(result)}.", "success")
                if changed := _changed_since_check(checked_counts, result):
                    flash(changed, "info")
                if result.unusual_rows:
                    flash(_unusual(result), "info")
                return see_other(".import_file")
        except CLASH_ERRORS:
            db.session.rollback()
            form.form_errors.append(CLASH_MESSAGE)
            result, status = None, 409
        else:
            # A dry run, or a bad file: nothing of it stays.
            db.session.rollback()
            status = 200 if result.ok else 422
            if result.ok:
                form.dry_run.data = False  # checked: the next press imports it
                carry = _carry(stream, filename, result)
    return render_template(
        "reports/import.html",
        form=form,
        result=result,
        carry=carry,
        counts=_counts(result) if result is not None else "",
        header_line=HEADER_LINE,
        limit=_limit_mb(),
    ), status


def _template_response(text: str, filename: str) -> Response:
    response = Response(text, mimetype="text/csv")
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    return response


@bp.get("/reports/import/template.csv")
def import_template():
    policy.require("report.import")
    return _template_response(template_csv(), "reports-import.csv")


def _template_day():
    """The day of ?date= (today without one), or the 400 page that says what is wrong."""
    try:
        day = rules.parse_report_date(request.args.get("date"))
    except ValueError as error:
        problem = str(error)
    else:
        if day is None:
            return rules.today(), None
        problems = rules.report_date_errors(day)
        if not problems:
            return day, None
        problem = " ".join(problems)
    page = render_template(
        "errors/error.html",
        code=400,
        title="Wrong date",
        message=f"{problem} Nothing was downloaded: go back and choose another day.",
    )
    return None, make_response(page, 400)


@bp.get("/reports/import/prefilled.csv")
def import_template_prefilled():
    """The template with one row per hospital the person may report for, on the day asked
    for, the capacity of its newest report filled in: the clerk types the day's figures."""
    policy.require("report.import")
    day, problem = _template_day()
    if problem is not None:
        return problem
    rows = []
    # The hospitals the person reports for (the policy's rule as a query: an editor's
    # assigned ones), each with its newest report, in one query.
    stmt = with_latest_report(entry_queries.reportable(current_user).order_by(Hospital.code))
    for hospital in db.session.scalars(stmt):
        newest = hospital.latest_report
        figures = {n: getattr(newest, n) for n in rules.CAPACITY_FIELDS} if newest else {}
        rows.append(
            [
                neutralise(hospital.code),
                day.isoformat(),
                *("" if figures.get(n) is None else figures[n] for n in rules.COUNT_FIELDS),
                "",
            ]
        )
    return _template_response(template_csv(rows), f"reports-import-{day.isoformat()}.csv")


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error):
    if request.endpoint != "reports.import_file":
        return http_error_page(error)
    # The app's 413 page does not know the import's own, larger limit.
    return render_template(
        "errors/error.html",
        code=413,
        title="File too large",
        message=(
            f"The file is larger than {_limit_mb()}, the most the import accepts, so nothing "
            "was imported. Split it into smaller files, each starting with the header line, "
            "and import them one after the other."
        ),
    ), 413
