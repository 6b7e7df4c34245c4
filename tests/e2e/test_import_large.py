"""A large import through the page, served by gunicorn with the app's own gunicorn.conf.py
(its worker timeout included): 100,000 rows of 1,000 hospitals must be imported inside one
request, not cut off by the timeout. No time is asserted: the point is that it finishes."""

from __future__ import annotations

import http.cookiejar
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from helpers import ADMIN_EMAIL, CSRF_RE, PASSWORD, count, make_user, page_text, today
from sqlalchemy import func, select

from hospital_app.extensions import db
from hospital_app.models import AuditEntry, Report

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from make_import_csv import write  # the bench's own data, not a copy

HOSPITALS, DAYS = 1000, 100
# Far above the import's time: bounded if the server hangs (gunicorn's own timeout is the
# one this test is about).
TIMEOUT = 600
# One worker: the whole machine for the import, as a quiet server would give it.
WORKERS = 1


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _open(opener, request) -> tuple[int, str, str | None]:
    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            return response.status, response.read().decode(), response.headers.get("Location")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode(errors="replace"), error.headers.get("Location")


def _multipart(fields: dict[str, str], name: str, filename: str, content: bytes):
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
        f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
        + content
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_a_hundred_thousand_rows_through_the_page(app, live_server, tmp_path):
    make_user(app, "admin", email=ADMIN_EMAIL, name="Ada Admin")
    seeded = app.test_cli_runner().invoke(
        args=["seed-demo", "--hospitals", str(HOSPITALS), "--days", "1"]
    )
    assert seeded.exit_code == 0, seeded.output
    path = tmp_path / "reports.csv"
    rows = write(path, HOSPITALS, DAYS)
    assert rows == 100_000

    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
    )
    url = live_server.url
    status, body, _ = _open(opener, f"{url}/login")
    credentials = {
        "email": ADMIN_EMAIL,
        "password": PASSWORD,
        "csrf_token": CSRF_RE.search(body).group(1),
    }
    login = urllib.request.Request(  # noqa: S310 (our http URL)
        f"{url}/login", data=urllib.parse.urlencode(credentials).encode(), method="POST"
    )
    assert _open(opener, login)[0] == 303
    status, body, _ = _open(opener, f"{url}/reports/import")
    assert status == 200
    data, content_type = _multipart(
        {"csrf_token": CSRF_RE.search(body).group(1)}, "file", "reports.csv", path.read_bytes()
    )
    upload = urllib.request.Request(  # noqa: S310 (our http URL)
        f"{url}/reports/import", data=data, method="POST", headers={"Content-Type": content_type}
    )

    status, body, location = _open(opener, upload)

    assert status == 303, page_text_of(body)
    status, body, _ = _open(opener, urllib.parse.urljoin(url, location))
    assert "Imported 100,000 rows: 100,000 new, 0 updated, 0 unchanged" in page_text_of(body)
    imported = Report.report_date < today() - timedelta(days=1)
    assert count(app, Report, imported) == 100_000
    with app.app_context():
        entries = dict(
            db.session.execute(
                select(AuditEntry.action, func.count())
                .where(AuditEntry.record_type == "report", AuditEntry.actor.contains(ADMIN_EMAIL))
                .group_by(AuditEntry.action)
            ).all()
        )
    # One entry for each new report, and one more for each marked unusual (its marks are
    # set once the file's earlier rows are stored, as the session wrote them).
    assert entries.pop("create") == 100_000
    assert entries == ({"update": confirmed} if (confirmed := marked(app)) else {})
    log = live_server.log()
    assert "WORKER TIMEOUT" not in log and "Traceback" not in log, log[-2000:]


def marked(app) -> int:
    return count(app, Report, Report.outlier_confirmed.is_(True))


def page_text_of(body: str) -> str:
    """page_text() of an answer read with urllib."""
    return page_text(SimpleNamespace(get_data=lambda as_text=True: body))
