"""/entry: the data-entry page, a clerk's day. The hospitals the person reports for, each with
the day's state (to do, or entered by whom and when) and the link to enter or edit its
report; those still to do first. The report form reached from here carries ?entry=1, so that
its "Save and next hospital" goes on to the next one still to do (reports/views.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import Blueprint, abort, flash, render_template, request
from flask_login import current_user

from .. import cycle, policy, rules
from ..extensions import db
from ..followup import queries as followup_queries
from ..hospitals.queries import regions_in_use
from ..models import Hospital, Report
from ..report_entry import ReportForm
from ..saving import Outcome, save_all
from ..templating import day as shown_day
from ..web import see_other
from . import queries
from .forms import EntryArgs, GridForm, grid_row, posted_hospital_ids, row_is_empty

bp = Blueprint("entry", __name__)


def entry_args() -> EntryArgs:
    # Only an administrator reports for hospitals of several regions: an editor's few
    # hospitals need no region filter, nor its query.
    regions = regions_in_use() if current_user.role == "admin" else []
    return EntryArgs(request.args, regions=regions)


@bp.get("/entry")
def index():
    policy.require("report.enter")
    args = entry_args()
    valid = args.validate()
    day = args.day  # today, when ?date= cannot be used
    rows = queries.day_sheet(current_user, day, args.region.data) if valid else None
    closed, closed_notice = _closed(day, rows or ())
    return render_template(
        "entry/index.html",
        args=args,
        rows=rows,
        closed=closed,
        closed_notice=closed_notice,
        to_do=sum(row.to_do for row in rows or ()),
        # Confirmed unusual figures a reviewer sent back (followup/), until edited or checked.
        sent_back=followup_queries.sent_back(
            None if current_user.role == "admin" else policy.assigned_hospital_ids(current_user)
        ),
        previous_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1) if day < rules.today() else None,
    ), (200 if valid else 400)


def _closed(day, rows) -> tuple[set[int], str | None]:
    """The hospitals whose report of `day` the person may not write because the day is
    closed (an exception may open some), and what the page says about it."""
    if not cycle.is_closed(day, cycle.settings()):
        return set(), None
    if current_user.role == "admin":
        return set(), (
            f"Reports for {shown_day(day)} are closed for editors: {policy.closing_rule()}. "
            "You can still change them; the audit trail marks such changes."
        )
    closed = {
        row.hospital.id
        for row in rows
        if policy.refusal(current_user, "report.write", row.hospital, day=day) is not None
    }
    return closed, policy.closed_message(day) if closed else None


# --- Several hospitals on one screen -----------------------------------------------------------


EMPTY_GRID = "Nothing was saved: type the day's figures of at least one hospital."
# The grid's columns: the day's figures, then the capacity each row starts with. Notes are
# left to each report's own form, which keeps the table narrow enough for one screen.
GRID_COLUMNS = (*rules.DAY_FIGURES, *rules.CAPACITY_FIELDS)


@dataclass
class GridRow:
    hospital: Hospital
    form: ReportForm
    empty: bool = True

    def cells(self) -> list:
        return [self.form[name] for name in GRID_COLUMNS]

    def wrong_cells(self) -> list:
        return [f for f in self.cells() if f.errors]

    def date_errors(self) -> list[str]:
        """The date is the page's, not a cell: its one possible error is a clash with a
        report entered meanwhile, said beside the row."""
        return self.form.report_date.errors

    def to_confirm(self) -> bool:
        return bool(self.form.confirm_outlier.errors) or bool(self.why_missing())

    def why_missing(self) -> list:
        """The row's reason or note for confirming, when missing (the box is ticked)."""
        return [f for f in self.form.follow_up_fields() if f.errors]

    @property
    def has_problem(self) -> bool:
        return bool(self.wrong_cells() or self.date_errors() or self.to_confirm())

    def first_problem(self):
        """Where the summary's link and the cursor go: the first wrong cell; else the box
        confirming unusual figures; else (a clash) the row's first cell."""
        wrong = self.wrong_cells()
        if wrong:
            return wrong[0]
        if self.form.confirm_outlier.errors:
            return self.form.confirm_outlier
        why = self.why_missing()
        return why[0] if why else self.cells()[0]


def _grid_page(args: EntryArgs, rows: list[GridRow] | None, problem: str | None = None):
    return render_template(
        "entry/grid.html",
        args=args,
        rows=rows,
        columns=GRID_COLUMNS,
        problem=problem,
        form=GridForm(),
    )


@bp.route("/entry/grid", methods=["GET", "POST"])
def grid():
    """The hospitals still to do on a day, one row each, saved with one submit: every filled
    row, or none. A row is the report form itself; rows left empty are not saved."""
    policy.require("report.enter")
    args = entry_args()
    if not args.validate():
        return _grid_page(args, None), 400
    day = args.day
    if request.method == "GET":
        rows, refused = [], None
        for hospital, previous in queries.grid_rows(current_user, day, args.region.data):
            refusal = policy.refusal(current_user, "report.write", hospital, day=day)
            if refusal is not None:
                refused = refusal  # a closed day: its row could not be saved
                continue
            rows.append(GridRow(hospital, grid_row(None, hospital.id, day, previous)))
        if refused is not None and not rows:
            # Not "nothing left to do": the day is closed to this person.
            abort(refused.status, description=refused.reason)
        return _grid_page(args, rows)

    rows = _submitted_rows(day)
    filled = [row for row in rows if not row.empty]
    if not filled:
        return _grid_page(args, rows, EMPTY_GRID), 422
    items = []
    for row in filled:
        report = Report(hospital_id=row.hospital.id)
        items.append((row.form, report, _adding(row.form, report)))
    if save_all(items) is Outcome.SAVED:
        saved = len(items)
        flash(f"{saved} report{'s' if saved != 1 else ''} saved for {shown_day(day)}.", "success")
        return see_other("entry.index", **args.query())
    return _grid_page(args, rows), 422


def _submitted_rows(day) -> list[GridRow]:
    """The rows of a submitted grid, with what was typed. The hospitals are those its field
    names give (a page opened earlier may hold one entered since: its row then gets the
    form's own clash message), each asked of the policy: a filled row for a hospital the
    person may not write stops the whole submit, with the reason; an empty one is dropped."""
    ids = posted_hospital_ids(request.form)
    hospitals = queries.hospitals_for_update(ids) if ids else []
    if len(hospitals) != len(ids):
        # A row of no hospital: not a page this app drew (or one deleted since, by hand).
        abort(
            400, description="This grid names a hospital that does not exist. Open the grid again."
        )
    rows = []
    for hospital in hospitals:
        empty = row_is_empty(request.form, hospital.id)
        refusal = policy.refusal(current_user, "report.write", hospital, day=day)
        if refusal is not None:
            if empty:
                continue
            abort(refusal.status, description=refusal.reason)
        rows.append(GridRow(hospital, grid_row(request.form, hospital.id, day), empty))
    return rows


def _adding(form: ReportForm, report: Report):
    def apply():
        form.apply_report(report)
        db.session.add(report)

    return apply
