"""`flask --app wsgi backup FILE`: a consistent copy of the SQLite database while the app runs.

sqlite3's online backup API copies the database as one read transaction sees it: with the WAL
journal, the workers go on writing meanwhile, and the copy holds exactly what was committed
when the copy began. A plain `cp` of the file could catch a write half-done, or miss what still
sits in the -wal file. PostgreSQL and MariaDB have their own tools (README, Backups)."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import URL, make_url


class BackupError(click.ClickException):
    """Nothing was written; the message says why and what to do."""


def server_tool_hint(url: URL) -> str:
    """How to back up a database server instead (no password: the tools ask or read their
    own configuration)."""
    host = url.host or "localhost"
    name = url.database or "hospital"
    user = url.username or "USER"
    if url.get_backend_name() == "postgresql":
        port = url.port or 5432
        return (
            "this command copies SQLite databases only. For PostgreSQL use pg_dump, which "
            "takes a consistent snapshot while the app runs:\n"
            f"  pg_dump -Fc -h {host} -p {port} -U {user} -f FILE.dump {name}\n"
            "and restore it into an empty database with:\n"
            f"  pg_restore -h {host} -p {port} -U {user} -d {name} --no-owner FILE.dump"
        )
    port = url.port or 3306
    return (
        "this command copies SQLite databases only. For MariaDB/MySQL use mariadb-dump "
        "(mysqldump), whose --single-transaction gives a consistent snapshot while the app "
        "runs:\n"
        f"  mariadb-dump --single-transaction -h {host} -P {port} -u {user} -p "
        f"--databases {name} > FILE.sql\n"
        "and restore it with:\n"
        f"  mariadb -h {host} -P {port} -u {user} -p < FILE.sql"
    )


def sqlite_path(url: URL) -> Path:
    if url.get_backend_name() != "sqlite":
        raise BackupError(server_tool_hint(url))
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        raise BackupError("the database is in memory: there is no file to back up.")
    path = Path(database)
    if not path.is_file():
        raise BackupError(f"there is no database file at {path}.")
    return path


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup_sqlite(source: Path, target: Path, force: bool = False) -> int:
    """Copy the database at `source` to `target`; the copy's size in bytes.

    The copy is written to a temporary file beside `target` and renamed into place only once
    it is complete, checked and on disk: a failed backup leaves no half-written FILE."""
    target = target.resolve()
    if target.is_dir():
        raise BackupError(f"{target} is a folder: give the name of the file to write.")
    if target.exists() and not force:
        raise BackupError(f"{target} exists already: choose another name, or add --force.")
    if target == source.resolve():
        raise BackupError("FILE is the database itself: choose another name.")
    if not target.parent.is_dir():
        raise BackupError(f"the folder {target.parent} does not exist.")
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    temp = Path(temp_name)
    try:
        # Read-only: a mistyped path must not create an empty database.
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        dst = sqlite3.connect(temp)
        try:
            # One step (pages=-1): the whole copy comes from one read transaction, so it is
            # one moment's database however much is written meanwhile.
            src.backup(dst)
            # A single self-contained file: no -wal beside it to lose when it is copied away.
            dst.execute("PRAGMA journal_mode = DELETE")
            result = dst.execute("PRAGMA integrity_check").fetchall()
            if result != [("ok",)]:
                raise BackupError(f"the copy fails SQLite's integrity check: {result[:5]}")
        finally:
            dst.close()
            src.close()
        with temp.open("rb") as fh:
            os.fsync(fh.fileno())
        if force:
            os.replace(temp, target)
        else:
            # link() fails if FILE appeared meanwhile: even then nothing is overwritten.
            try:
                os.link(temp, target)
            except FileExistsError:
                raise BackupError(
                    f"{target} exists already: choose another name, or add --force."
                ) from None
            temp.unlink()
        _fsync_dir(target.parent)
        return target.stat().st_size
    except sqlite3.Error as error:
        raise BackupError(f"SQLite could not copy the database: {error}") from None
    finally:
        temp.unlink(missing_ok=True)


@click.command("backup")
@with_appcontext
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def backup_command(file: Path, force: bool) -> None:
    """Copy the SQLite database to FILE while the app keeps running. The copy holds everything
    committed before the backup began; restore it by stopping the app and putting FILE in the
    database's place. On PostgreSQL or MariaDB it says which tool to use instead."""
    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    source = sqlite_path(url)
    size = backup_sqlite(source, file, force)
    click.echo(f"Backed up {source} to {file.resolve()} ({size:,} bytes, integrity check ok).")
