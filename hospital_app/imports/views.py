"""CSV import of statistics reports (GET/POST /stats/import) and its template file."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, render_template, request
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from ..auth.policy import refusal, require
from ..extensions import csrf, db
from ..models import Hospital
from ..web import see_other
from .forms import ImportForm
from .importer import (
    CLASH_ERRORS,
    CLASH_MESSAGE,
    HEADER_LINE,
    ImportResult,
    import_reports,
    template_csv,
)

bp = Blueprint("imports", __name__)


def _permission(hospital: Hospital) -> str | None:
    return refusal(current_user, "report.write", hospital)


def _limit_mb() -> str:
    return f"{current_app.config['IMPORT_MAX_BYTES'] / (1024 * 1024):g} MB"


def _counts(result: ImportResult) -> str:
    return (
        f"{result.new:,} new, {result.updated:,} updated, "
        f"{result.unchanged:,} unchanged (identical, left alone)"
    )


def _unusual(result: ImportResult) -> str:
    rows = f"{result.unusual_rows:,} row{'s' if result.unusual_rows != 1 else ''}"
    return (
        f"{rows} had figures far from their hospital's recent history: they were imported "
        "and marked “Confirmed unusual” for follow-up on the dashboard."
    )


@bp.route("/stats/import", methods=["GET", "POST"])
@csrf.exempt  # checked below, once the larger size limit is set
def upload():
    require("stats.import")
    if request.method == "POST":
        # Set before anything reads the body: the app's MAX_CONTENT_LENGTH is for forms, and
        # the global CSRF check would parse the body under it (hence the exemption above).
        request.max_content_length = current_app.config["IMPORT_MAX_BYTES"]
        csrf.protect()
    form = ImportForm()
    result = None
    status = 200
    if form.validate_on_submit():
        try:
            result = import_reports(
                form.file.data.stream, permission=_permission, dry_run=form.dry_run.data
            )
            if result.ok and not result.dry_run:
                db.session.commit()
                flash(f"Imported {result.rows:,} rows: {_counts(result)}.", "success")
                if result.unusual_rows:
                    flash(_unusual(result), "info")
                return see_other("imports.upload")
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
    elif form.is_submitted():
        status = 422
    return render_template(
        "imports/import.html",
        form=form,
        result=result,
        counts=_counts(result) if result is not None else "",
        header_line=HEADER_LINE,
        limit=_limit_mb(),
    ), status


@bp.route("/stats/import/template.csv")
def template():
    require("stats.import")
    response = Response(template_csv(), mimetype="text/csv")
    response.headers.set("Content-Disposition", "attachment", filename="statistics-import.csv")
    return response


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error):
    # The app's 413 page does not know this page's own, larger limit.
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
