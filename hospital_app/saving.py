"""The one way a form's work is saved, and so the one place a request's changes are committed.

A request's transaction: Flask-SQLAlchemy scopes db.session to the app context, which Flask
pushes for each request and pops at its end; popping calls session.remove(), which rolls back
whatever was not committed, whether or not the request raised. A view therefore validates,
changes objects and commits once, at the end, through save() or toggle() below (or
apply_and_commit(), for a form the view checks further once it is valid); the 500
handler rolls back before it renders (errors.py).

Both run the same sequence and say how it ended (Outcome):
  validate the form → INVALID (nothing changed);
  (toggle only) the action's own rule → REFUSED, the state already reached → UNCHANGED;
  compare the version the form was opened at with the stored one → CONFLICT (nothing changed);
  apply the form to the record → UNCHANGED when that changed nothing;
  commit → SAVED; or, when the database refuses:
    a version moved on between the check and the UPDATE → CONFLICT, after a rollback;
    a unique constraint (a duplicate code, a second report for a date) → INVALID, after a
    rollback: the competing row is visible now, so validating again names the field; if that
    finds nothing to blame, the error was not the person's to fix and goes on to the 500
    handler. Any other database error does too.
On CONFLICT, form.conflict says who changed the record and how it differs from the form, and
the form now carries the stored version, so saving again applies the person's values
knowingly.

save_all() saves several new records of several forms (the data-entry grid) with the same
sequence, all of them or none: every form is validated, then every record is applied, then
one commit.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence

from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError

from .conflicts import Compared, changed_since_opened, explain
from .extensions import db


class Outcome(enum.Enum):
    SAVED = "saved"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"
    INVALID = "invalid"
    REFUSED = "refused"


def save(form, record, apply: Callable[[], None]) -> Outcome:
    """Save a submitted record form: `apply()` copies the form onto `record`, which is new
    (added to the session by apply) or the stored record the form was opened at. Call it on
    every request: a form that was not submitted is INVALID and untouched."""
    if not form.validate_on_submit():
        return Outcome.INVALID
    return apply_and_commit(form, record, apply)


def apply_and_commit(form, record, apply: Callable[[], None]) -> Outcome:
    """save() for a form its view has validated already, with checks of its own after that
    (changing one's password checks the current one): the same sequence from the version
    check on, without validating the form a second time."""
    return _apply_and_commit(form, record, apply, form.compared_values())


def toggle(
    form, record, *, already: bool, apply: Callable[[], None], refusal: str | None = None
) -> Outcome:
    """An action button (archive, restore, activate, deactivate): `already` when the record
    is in the state asked for, `refusal` the action's own rule (a reason, or None), checked
    first; its reason is then in form.form_errors."""
    if not form.validate():
        return Outcome.INVALID
    if refusal is not None:
        form.form_errors.append(refusal)
        return Outcome.REFUSED
    if already:
        return Outcome.UNCHANGED
    return _apply_and_commit(form, record, apply, [])


def save_all(items: Sequence[tuple[object, object, Callable[[], None]]]) -> Outcome:
    """Save several submitted forms that each create a record, in one transaction: `items`
    are (form, new record, apply) as for save(). Every form is validated, so each shows its
    own errors; one invalid form saves none (INVALID). A unique constraint at the commit
    (someone saved one of these records meanwhile) rolls everything back and validates
    every form again, so the form it concerns names the clash; if none does, the error goes
    on to the 500 handler, as does any other database error."""
    if any(inspect(record).persistent for _form, record, _apply in items):
        raise ValueError("save_all() creates records; an edit goes through save()")
    # A list, not a generator: every form is validated, not only those up to the first error.
    if not all([form.validate_on_submit() for form, _record, _apply in items]):
        return Outcome.INVALID
    for _form, _record, apply in items:
        apply()
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if all([form.validate() for form, _record, _apply in items]):
            raise
        return Outcome.INVALID
    return Outcome.SAVED


def insert(form, record) -> Outcome:
    """An action button that brings a record back (a deleted report restored from its history):
    validate the form, add `record`, commit. A unique constraint at the commit (the record, or
    another in its place, was stored meanwhile) rolls back and is a CONFLICT, which the view
    explains by reading what is stored now."""
    if not form.validate():
        return Outcome.INVALID
    db.session.add(record)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return Outcome.CONFLICT
    return Outcome.SAVED


def _apply_and_commit(form, record, apply, compare: list[Compared]) -> Outcome:
    state = inspect(record)
    stored = state.persistent
    if stored and changed_since_opened(form.version.data, record):
        _conflict(form, record, compare)
        return Outcome.CONFLICT
    apply()
    deleting = record in db.session.deleted
    if stored and not deleting and not db.session.is_modified(record):
        return Outcome.UNCHANGED
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        _conflict(form, record, compare)
        return Outcome.CONFLICT
    except IntegrityError:
        db.session.rollback()
        if form.validate():
            raise
        return Outcome.INVALID
    return Outcome.SAVED


def _conflict(form, record, compare: list[Compared]) -> None:
    form.conflict = explain(record, compare)
    if not form.conflict.deleted:
        try:
            form.version.data = record.version
        except ObjectDeletedError:  # deleted in the meantime
            form.conflict.deleted = True
