"""How the app talks to its database: engine settings, and the one place a request commits.

The request's transaction: Flask-SQLAlchemy scopes db.session to the app context, which
Flask pushes for each request and pops at its end; popping calls session.remove(), which
rolls back whatever was not committed and returns the connection to the pool, whether or
not the request raised. Views therefore change objects and call commit_form() once, at the
end; nothing else commits. The 500 handler rolls back before it renders (error handlers run
before teardown), so not even the error page reads from a failed transaction.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from wtforms import Form

from . import conflicts
from .extensions import db


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite ignores foreign keys unless asked, per connection.
    cursor.execute("PRAGMA foreign_keys = ON")
    # WAL lets readers go on while one worker writes; writers queue for up to 30 s
    # instead of failing at once with 'database is locked'.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def init_engine(app: Flask) -> None:
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_on_connect)


def commit_form(form: Form, record=None, compare=()) -> bool:
    """Commit the request's work; True when it was saved.

    A constraint that the person can fix (a duplicate code, a second report for a date,
    `record` changed by someone else meanwhile) rolls back and becomes an error on `form`,
    and this returns False. Any other database error propagates to the 500 handler.
    `compare` lists the values to show beside theirs in a conflict (conflicts.explain).
    """
    try:
        db.session.commit()
        return True
    except StaleDataError:
        db.session.rollback()
        conflicts.explain(form, record, compare)
        return False
    except IntegrityError:
        db.session.rollback()
        # Another request committed the competing row after this one validated. It is
        # visible now, so validating again names the field; if it finds nothing to blame,
        # the error was not the person's to fix.
        if form.validate():
            raise
        return False
