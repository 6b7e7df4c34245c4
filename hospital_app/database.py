"""How the app talks to its database: per-connection settings. Where a request's work is
committed, and rolled back, is said in saving.py."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import event

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
    # A 16 MiB page cache (SQLite's default is 2 MB): the timeliness page's seeks over a year
    # of a thousand hospitals' indexes took 10 % longer without it; more (64 MiB was tried)
    # gained nothing more and pushed a 100,000-row import's memory past 150 MB.
    cursor.execute("PRAGMA cache_size = -16384")
    cursor.close()


def init_engine(app: Flask) -> None:
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_on_connect)
