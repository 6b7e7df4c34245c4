"""Bad input of any kind gets a clear 4xx with the reason, and writes nothing (issue 14, point 1).

Each section is one class of bad input; every case asserts the status, the message a person
reads, and that no row was written or changed. The rules themselves live in rules.py (README,
"Bad input")."""

from __future__ import annotations

import pytest
from helpers import (
    count,
    csrf_token,
    fetch,
    form_data,
    make_hospital,
    new_hospital_form,
    page_text,
    report_form,
    report_values,
    today,
)

from hospital_app import rules
from hospital_app.models import AuditEntry, Hospital, Report
from hospital_app.rules import CAPACITY_FIELDS, DAY_FIGURES

# --- Posting the CSV import and a closing exception, as a browser does -------------------------

HEADER = ["hospital_code", "report_date", *rules.COUNT_FIELDS, "notes"]


def cells(**overrides) -> list[str]:
    """One CSV row of report_values(**overrides) for the hospital NRH-001."""
    values = form_data(report_values(**overrides))
    return ["NRH-001", *(values[name] for name in HEADER[1:])]


def csv_bytes(rows, header=HEADER) -> bytes:
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *rows])
    return buffer.getvalue().encode()


def upload(client, data: bytes, csrf: str):
    import io

    form = {"file": (io.BytesIO(data), "stats.csv"), "csrf_token": csrf}
    return client.post("/reports/import", data=form, content_type="multipart/form-data")


def exception_form(csrf: str, hospital_id: int, **overrides) -> dict:
    from datetime import timedelta

    values = {
        "hospital": str(hospital_id),
        "date_from": (today() - timedelta(days=20)).isoformat(),
        "date_to": (today() - timedelta(days=14)).isoformat(),
        "hours": "48",
        "reason": "The lab's figures were corrected.",
        "csrf_token": csrf,
    }
    values.update(overrides)
    return values


# --- 1. White space alone in a count ----------------------------------------------------------

# Every kind of white space a browser can send: str.split() and str.strip() know them all.
SPACES = [
    " ",
    "\t",
    "\n",
    "\r\n",
    "\u00a0",  # no-break space
    "\u2003",  # em space
    "\u202f",  # narrow no-break space
    "\u3000",  # ideographic space
    "\u2028",  # line separator
    " \u00a0\t ",
]
COUNT_FIELDS = ["beds_total", "beds_occupied", "deaths"]


def rows_written(app) -> tuple[int, int, int]:
    return count(app, Hospital), count(app, Report), count(app, AuditEntry)


@pytest.mark.parametrize("space", SPACES, ids=repr)
@pytest.mark.parametrize("field", COUNT_FIELDS)
def test_a_count_of_white_space_on_the_new_hospital_form_is_required(app, client, field, space):
    csrf = csrf_token(client)
    before = rows_written(app)
    response = client.post("/hospitals/new", data=new_hospital_form(csrf, **{field: space}))
    assert response.status_code == 422
    assert rules.COUNT_REQUIRED_MESSAGE in page_text(response)
    assert rows_written(app) == before == (0, 0, before[2])


@pytest.mark.parametrize("space", SPACES, ids=repr)
@pytest.mark.parametrize("field", COUNT_FIELDS)
def test_a_count_of_white_space_on_a_new_report_is_required(app, client, field, space):
    hospital = make_hospital(app)
    before = rows_written(app)
    url = f"/hospitals/{hospital}/reports/new"
    data = report_form(csrf_token(client, url), report_date=today(), **{field: space})
    response = client.post(url, data=data)
    assert response.status_code == 422
    assert rules.COUNT_REQUIRED_MESSAGE in page_text(response)
    assert rows_written(app) == before


@pytest.mark.parametrize("space", SPACES, ids=repr)
@pytest.mark.parametrize("field", COUNT_FIELDS)
def test_a_count_of_white_space_on_an_edited_report_is_required(app, client, field, space):
    make_hospital(app)
    with app.app_context():
        from hospital_app.extensions import db

        report_id = db.session.scalar(db.select(Report.id))
    stored = fetch(app, Report, report_id)
    url = f"/reports/{report_id}/edit"
    html = client.get(url).get_data(as_text=True)
    version = html.split('name="version" type="hidden" value="')[1].split('"')[0]
    data = {**report_form(csrf_token(client, url), **{field: space}), "version": version}
    response = client.post(url, data=data)
    assert response.status_code == 422
    assert rules.COUNT_REQUIRED_MESSAGE in page_text(response)
    after = fetch(app, Report, report_id)
    assert (after.version, getattr(after, field)) == (stored.version, getattr(stored, field))


@pytest.mark.parametrize("space", SPACES, ids=repr)
@pytest.mark.parametrize("field", ["beds_total", "beds_occupied"])
def test_a_count_of_white_space_in_the_grid_is_required(app, client, field, space):
    hospital = make_hospital(app, code="G-1")
    url = f"/entry/grid?date={today().isoformat()}"
    values = form_data(report_values())
    data = {f"h{hospital}-{n}": values[n] for n in (*DAY_FIGURES, *CAPACITY_FIELDS)}
    data[f"h{hospital}-{field}"] = space
    before = rows_written(app)
    response = client.post(url, data={**data, "csrf_token": csrf_token(client, url)})
    assert response.status_code == 422
    assert rules.COUNT_REQUIRED_MESSAGE in page_text(response)
    assert rows_written(app) == before


@pytest.mark.parametrize("bad", ["2147483648", "99999999999"])
def test_a_grid_row_of_an_id_no_hospital_can_have_is_a_400(app, client, bad):
    hospital = make_hospital(app, code="G-1")
    url = f"/entry/grid?date={today().isoformat()}"
    values = form_data(report_values())
    data = {f"h{hospital}-{n}": values[n] for n in (*DAY_FIGURES, *CAPACITY_FIELDS)}
    data.update({f"h{bad}-{n}": values[n] for n in (*DAY_FIGURES, *CAPACITY_FIELDS)})
    before = rows_written(app)
    response = client.post(url, data={**data, "csrf_token": csrf_token(client, url)})
    assert response.status_code == 400
    assert "This grid names a hospital that does not exist" in page_text(response)
    assert rows_written(app) == before


# --- 3. Numbers outside every range -----------------------------------------------------------

# Every route with an id, as a GET (the pages) or a POST (the buttons).
ID_ROUTES = [
    ("get", "/hospitals/{}"),
    ("get", "/hospitals/{}/edit"),
    ("post", "/hospitals/{}/edit"),
    ("get", "/hospitals/{}/history"),
    ("get", "/hospitals/{}/archive"),
    ("post", "/hospitals/{}/restore"),
    ("get", "/hospitals/{}/reports/new"),
    ("post", "/hospitals/{}/reports/new"),
    ("get", "/reports/{}/edit"),
    ("get", "/reports/{}/history"),
    ("get", "/reports/{}/delete"),
    ("post", "/reports/{}/delete"),
    ("get", "/accounts/{}/edit"),
    ("get", "/accounts/{}/history"),
    ("get", "/accounts/{}/password"),
    ("get", "/accounts/{}/deactivate"),
    ("post", "/accounts/{}/activate"),
    ("post", "/settings/exceptions/{}/end"),
    ("get", "/hospitals/{}/stats/new"),
    ("post", "/accounts/{}/unblock"),
    ("post", "/review/{}/reopen"),
    ("post", "/followup/{}/check"),
    ("post", "/followup/{}/send-back"),
    ("post", "/reports/{}/restore"),
    ("post", "/reports/{}/revert/1"),
]
BAD_IDS = [
    "0",
    "2147483648",  # 2^31: past PostgreSQL's INTEGER
    "9223372036854775808",  # 2^63: past SQLite's
    "9" * 5000,  # past Python's int() limit of 4,300 digits
    "٣",  # Arabic-Indic three
    "３",  # fullwidth three
    "00001",
]


@pytest.mark.parametrize("method,route", ID_ROUTES)
@pytest.mark.parametrize("bad", BAD_IDS, ids=lambda v: v[:12])
def test_an_id_outside_every_range_is_a_404(app, client, method, route, bad):
    make_hospital(app)
    before = rows_written(app)
    response = getattr(client, method)(route.format(bad), data={"csrf_token": csrf_token(client)})
    assert response.status_code == 404
    assert "Page not found" in page_text(response)
    assert rows_written(app) == before


def test_the_largest_id_is_an_ordinary_404(app, client):
    response = client.get(f"/hospitals/{rules.ID_MAX}")
    assert response.status_code == 404


HUGE = "9" * 5000


@pytest.mark.parametrize(
    "value,message",
    [
        (HUGE, "Total beds is too large: Total beds must be a whole number from 0 to 100,000."),
        ("1" + "0" * 12, "Total beds is too large"),
        ("0" * 5000 + "7", None),  # leading zeros are no size: 7 beds, a rule then says why
        ("-" + HUGE, "Total beds is too large"),
        ("٣", "Total beds must be a whole number from 0 to 100,000, not “٣”."),
        ("３", "Total beds must be a whole number from 0 to 100,000, not “３”."),
        ("1e3", "must be a whole number"),
    ],
    ids=lambda v: str(v)[:12],
)
def test_a_count_of_too_many_digits_or_other_digits_says_why(app, client, value, message):
    csrf = csrf_token(client)
    before = rows_written(app)
    response = client.post("/hospitals/new", data=new_hospital_form(csrf, beds_total=value))
    assert response.status_code == 422
    text = page_text(response)
    assert "Exceeds the limit" not in text
    if message:
        assert message in text
    assert rows_written(app) == before


def test_an_import_cell_of_5000_digits_says_too_large(app, client):
    make_hospital(app)
    data = csv_bytes([cells(beds_occupied=HUGE, report_date=today())], header=HEADER)
    before = rows_written(app)
    response = upload(client, data, csrf_token(client, "/reports/import"))
    assert response.status_code == 422
    text = page_text(response)
    assert "Occupied beds is too large" in text
    assert "Exceeds the limit" not in text
    assert rows_written(app) == before


PAGE_LISTS = [
    "/hospitals",
    "/reports",
    "/accounts",
    "/audit",
    "/timeliness",
    "/dashboard/missing",
    "/settings/exceptions",
]


@pytest.mark.parametrize("url", PAGE_LISTS)
@pytest.mark.parametrize(
    "page,message",
    [
        (HUGE, "There are not that many pages"),
        ("99999999999", "There are not that many pages"),
        ("1000001", "There are not that many pages"),
        ("0", "Page numbers start at 1."),
        ("-1", "Page numbers start at 1."),
        ("abc", "“abc” is not a page number"),
        ("٣", "“٣” is not a page number"),
        ("1_0", "“1_0” is not a page number"),
    ],
    ids=lambda v: str(v)[:12],
)
def test_a_page_number_outside_every_range_is_a_400_that_says_why(client, url, page, message):
    response = client.get(f"{url}?page={page}")
    assert response.status_code == 400
    assert message in page_text(response)


@pytest.mark.parametrize(
    "value,message",
    [
        (HUGE, "is too large. Enter a number of days from 0 to 366"),
        ("٣", "“٣” is not a whole number."),
        ("+3", "“+3” is not a whole number."),
        ("1_0", "“1_0” is not a whole number."),
    ],
    ids=lambda v: str(v)[:12],
)
def test_a_setting_of_too_many_or_other_digits_says_why(app, client, value, message):
    from hospital_app.models import ReportingSettings

    html = client.get("/settings").get_data(as_text=True)
    version = html.split('name="version" type="hidden" value="')[1].split('"')[0]
    data = {
        "csrf_token": csrf_token(client, "/settings"),
        "version": version,
        "deadline_time": "12:00",
        "deadline_day_offset": "1",
        "close_after_days": value,
    }
    response = client.post("/settings", data=data)
    assert response.status_code == 422
    assert message in page_text(response)
    assert count(app, ReportingSettings) == 0


# --- 2. Characters no text may hold -----------------------------------------------------------

# (character, how the message names it). Tab, line feed and carriage return are white space.
BAD_CHARS = [
    ("\x00", "a NUL character (U+0000)"),
    ("\x01", "a control character (U+0001)"),
    ("\x1b", "a control character (U+001B)"),
    ("\x7f", "a control character (U+007F)"),
    ("\x85", "a control character (U+0085)"),
    ("\u202e", "a text-direction control character (U+202E)"),
    ("\u202a", "a text-direction control character (U+202A)"),
    ("\u2066", "a text-direction control character (U+2066)"),
    ("\u2069", "a text-direction control character (U+2069)"),
    ("\uffff", "a non-character (U+FFFF)"),
]


def test_the_text_rule_itself():
    assert rules.text_errors("Line one\r\n\tline two", "Notes") == []
    assert rules.text_errors("ok\ud800", "Notes") == [
        "Notes holds a broken character (lone surrogate) (U+D800) at character 3, which cannot "
        "be stored: remove it and try again."
    ]


def hospital_rows(app):
    with app.app_context():
        from hospital_app.extensions import db

        return db.session.execute(db.select(Hospital.name, Hospital.region)).all()


@pytest.mark.parametrize("char,kind", BAD_CHARS, ids=lambda v: repr(v)[:10])
@pytest.mark.parametrize("field,label", [("name", "Name"), ("region", "Region"), ("city", "City")])
def test_a_hospital_field_with_a_bad_character_is_refused(app, client, char, kind, field, label):
    csrf = csrf_token(client)
    data = new_hospital_form(csrf, **{field: f"North{char}side"})
    before = rows_written(app)
    response = client.post("/hospitals/new", data=data)
    assert response.status_code == 422
    assert f"{label} holds {kind} at character 6" in page_text(response)
    assert rows_written(app) == before


@pytest.mark.parametrize("char,kind", BAD_CHARS, ids=lambda v: repr(v)[:10])
def test_report_notes_with_a_bad_character_are_refused(app, client, char, kind):
    hospital = make_hospital(app)
    url = f"/hospitals/{hospital}/reports/new"
    data = report_form(csrf_token(client, url), report_date=today(), notes=f"a{char}b")
    before = rows_written(app)
    response = client.post(url, data=data)
    assert response.status_code == 422
    assert f"Notes holds {kind} at character 2" in page_text(response)
    assert rows_written(app) == before


def test_notes_keep_their_line_ends_and_tabs(app, client):
    hospital = make_hospital(app)
    url = f"/hospitals/{hospital}/reports/new"
    data = report_form(csrf_token(client, url), report_date=today(), notes="one\r\n\ttwo")
    assert client.post(url, data=data).status_code == 303


@pytest.mark.parametrize("char,kind", BAD_CHARS[:6], ids=lambda v: repr(v)[:10])
@pytest.mark.parametrize(
    "field,label", [("display_name", "Name"), ("email", "Email")], ids=["name", "email"]
)
def test_an_account_field_with_a_bad_character_is_refused(app, client, char, kind, field, label):
    from hospital_app.models import Account

    values = {
        "email": "nurse@example.org",
        "display_name": "Nurse Joy",
        "role": "viewer",
        "password": "correct horse battery staple",
        "password_again": "correct horse battery staple",
        field: f"n{char}urse@example.org" if field == "email" else f"N{char}urse Joy",
    }
    before = count(app, Account)
    response = client.post(
        "/accounts/new", data={**values, "csrf_token": csrf_token(client, "/accounts/new")}
    )
    assert response.status_code == 422
    assert f"{label} holds {kind} at character 2" in page_text(response)
    assert count(app, Account) == before


@pytest.mark.parametrize("char,kind", BAD_CHARS[:6], ids=lambda v: repr(v)[:10])
def test_an_exception_reason_with_a_bad_character_is_refused(app, client, char, kind):
    from hospital_app.models import ClosingException

    hospital = make_hospital(app)
    url = "/settings/exceptions/new"
    data = exception_form(csrf_token(client, url), hospital, reason=f"Lab{char} fixed")
    response = client.post(url, data=data)
    assert response.status_code == 422
    assert f"Reason holds {kind} at character 4" in page_text(response)
    assert count(app, ClosingException) == 0


@pytest.mark.parametrize("char,kind", BAD_CHARS[:4], ids=lambda v: repr(v)[:10])
def test_a_sign_in_email_with_a_bad_character_is_refused(app, anon, admin_id, char, kind):
    from helpers import login

    from hospital_app.models import SignInCounter

    before = count(app, SignInCounter), count(app, AuditEntry)
    response = login(anon, f"admin{char}@example.org")
    assert response.status_code == 422
    assert f"Email holds {kind} at character 6" in page_text(response)
    assert (count(app, SignInCounter), count(app, AuditEntry)) == before


# Every list and export's query string: a NUL or a control character in a value or a name.
QUERY_URLS = [
    "/hospitals?q={}",
    "/hospitals?region={}",
    "/hospitals/export.csv?q={}",
    "/reports?hospital={}",
    "/reports?date_from={}",
    "/reports/export.csv?region={}",
    "/reports/export.csv?hospital={}",
    "/accounts?q={}",
    "/audit?user={}",
    "/audit?date_from={}",
    "/timeliness?region={}",
    "/timeliness/export.csv?region={}",
    "/entry?date={}",
    "/entry?region={}",
    "/?date={}",
    "/?threshold={}",
    "/reminders?date={}",
    "/reports/import/prefilled.csv?date={}",
    "/login?next={}",
    "/hospitals?{}=1",
]


@pytest.mark.parametrize("url", QUERY_URLS)
@pytest.mark.parametrize(
    "char,kind", [BAD_CHARS[0], BAD_CHARS[2], BAD_CHARS[5]], ids=["nul", "esc", "rlo"]
)
def test_a_query_string_with_a_bad_character_is_a_400_that_says_why(app, client, url, char, kind):
    from urllib.parse import quote

    response = client.get(url.format(quote(f"x{char}")))
    assert response.status_code == 400
    text = page_text(response)
    assert f"holds {kind} at character 2" in text
    assert "The query parameter “" in text
    # Not the start of a CSV download cut short: the whole error page.
    assert response.mimetype == "text/html"


@pytest.mark.parametrize("char,kind", BAD_CHARS[1:], ids=lambda v: repr(v)[:10])
@pytest.mark.parametrize("column", ["notes", "hospital_code"])
def test_an_import_cell_with_a_bad_character_is_refused(app, client, char, kind, column):
    make_hospital(app)
    row = cells(report_date=today())
    row[HEADER.index(column)] = f"x{char}y"
    before = rows_written(app)
    response = upload(client, csv_bytes([row]), csrf_token(client, "/reports/import"))
    assert response.status_code == 422
    assert f"This cell holds {kind} at character 2" in page_text(response)
    assert rows_written(app) == before


# --- 4. Query-string names the app uses itself ------------------------------------------------

OWN_NAMES = [
    "endpoint=x",
    "_method=POST",
    "_external=1",
    "_scheme=javascript",
    "_anchor=x",
    "hospital_id=2",
    "report_id=3",
    "account_id=1",
    "values=1",
]
LINKED_PAGES = [
    "/hospitals",
    "/hospitals?sort=code",
    "/reports",
    "/accounts",
    "/audit",
    "/timeliness",
    "/hospitals/{h}",
    "/hospitals/{h}/history",
    "/settings/exceptions",
    "/dashboard/missing",
    "/entry",
]


def hrefs(response) -> list[str]:
    import re

    return re.findall(r'href="([^"]*)"', response.get_data(as_text=True))


@pytest.mark.parametrize("page", LINKED_PAGES)
@pytest.mark.parametrize("own", OWN_NAMES)
def test_a_query_name_the_app_uses_itself_changes_no_link(app, client, page, own):
    first = make_hospital(app, code="A-0", reports=tuple({"report_date": today()} for _ in [0]))
    for n in range(1, 7):  # more than a page (PER_PAGE is 5), so there are page links
        make_hospital(app, code=f"A-{n}", name=f"Hospital {n}")
    url = page.format(h=first)
    plain = client.get(url)
    joiner = "&" if "?" in url else "?"
    response = client.get(f"{url}{joiner}{own}")
    assert response.status_code == plain.status_code == 200
    name = own.split("=")[0]
    for href in hrefs(response):
        assert f"{name}=" not in href
        assert not href.startswith(("http:", "https:", "javascript:", "//"))
        assert not href.endswith("#x")
    assert sorted(hrefs(response)) == sorted(hrefs(plain))


# --- 5. Dates outside every date's range ------------------------------------------------------

DATE_FILTERS = [
    "/audit?date_to={}",
    "/audit?date_from={}",
    "/reports?date_from={}",
    "/reports?date_to={}",
    "/reports/export.csv?date_to={}",
    "/timeliness?from={}",
    "/timeliness?to={}",
    "/timeliness/export.csv?to={}",
    "/entry?date={}",
    "/entry/grid?date={}",
    "/?date={}",
    "/dashboard/missing?date={}",
    "/reminders?date={}",
    "/reports/import/prefilled.csv?date={}",
]
BAD_DATES = [
    ("9999-12-31", "The date cannot be after 31 Dec 2099."),
    ("2100-01-01", "The date cannot be after 31 Dec 2099."),
    ("0001-01-01", "The date cannot be before 1 Jan 2000."),
    ("1999-12-31", "The date cannot be before 1 Jan 2000."),
    ("10000-01-01", "“10000-01-01” is not a date"),
    ("2026-02-30", "“2026-02-30” is not a date"),
]


@pytest.mark.parametrize("url", DATE_FILTERS)
@pytest.mark.parametrize("value,message", BAD_DATES)
def test_a_date_filter_outside_every_range_is_a_400_that_says_why(app, client, url, value, message):
    make_hospital(app)
    response = client.get(url.format(value))
    assert response.status_code == 400
    assert message in page_text(response)
    assert response.mimetype == "text/html"


@pytest.mark.parametrize("value,message", BAD_DATES[:4])
def test_an_exception_date_outside_every_range_is_refused(app, client, value, message):
    from hospital_app.models import ClosingException

    hospital = make_hospital(app)
    url = "/settings/exceptions/new"
    data = exception_form(csrf_token(client, url), hospital, date_to=value)
    response = client.post(url, data=data)
    assert response.status_code == 422
    assert message in page_text(response)
    assert count(app, ClosingException) == 0


# --- 7. Absurd CSV headers ----------------------------------------------------------------------


@pytest.mark.parametrize("width", [101, 2_000, 32_000])
def test_a_header_of_thousands_of_columns_is_refused_with_one_message(app, client, width):
    make_hospital(app)
    # One-letter names: 32,000 of them still fit in a line (64 kB).
    header = ",".join("abcdefghij"[n % 10] for n in range(width))
    before = rows_written(app)
    response = upload(client, f"{header}\r\n".encode(), csrf_token(client, "/reports/import"))
    assert response.status_code == 422
    text = page_text(response)
    assert f"The header has {width:,} columns; a reports file has 12, so this is not one." in text
    assert rows_written(app) == before


def test_a_header_of_many_doubled_names_is_checked_in_one_pass(app, client, monkeypatch):
    """Proof of the linear check: the header's names are counted once, not once per name."""
    from hospital_app.reports import importer

    calls = []
    real = importer.Counter
    monkeypatch.setattr(importer, "Counter", lambda names: calls.append(len(names)) or real(names))
    header = ",".join([*HEADER, *(["notes"] * 80)])
    response = upload(client, f"{header}\r\n".encode(), csrf_token(client, "/reports/import"))
    assert response.status_code == 422
    assert "The column “notes” appears more than once in the header." in page_text(response)
    assert calls == [len(HEADER) + 80]


# --- 6. A request body that cannot be read ----------------------------------------------------
# Through gunicorn over a raw socket: tests/e2e/test_bad_body.py. Here, a server's own read
# errors, as gunicorn raises them (an exception that is neither werkzeug's nor an HTTP one).


class BrokenBody:
    """A wsgi.input whose reading fails as gunicorn's does on a malformed chunked body."""

    def __init__(self, error: Exception):
        self.error = error

    def read(self, *args):
        raise self.error

    readline = read


@pytest.mark.parametrize(
    "error",
    [ValueError("Invalid chunk size"), OSError("connection reset"), EOFError()],
    ids=lambda e: type(e).__name__,
)
@pytest.mark.parametrize("path", ["/login", "/hospitals/new"])
def test_a_body_that_cannot_be_read_is_a_400_page(app, client, path, error):
    from hospital_app.web import BODY_MESSAGE

    before = rows_written(app)
    response = client.post(
        path,
        environ_overrides={"wsgi.input": BrokenBody(error), "wsgi.input_terminated": True},
        headers={"Transfer-Encoding": "chunked"},
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert BODY_MESSAGE in page_text(response)
    assert rows_written(app) == before


# --- 8. Relatives: headers the app reads, uploaded file names ---------------------------------


@pytest.mark.parametrize("forwarded", ["x\x00y", "not-an-address", "1.2.3.4\u202e", "999.1.1.1"])
def test_a_client_address_that_is_not_an_ip_address_is_a_400(migrated_url, forwarded):
    from helpers import fresh_app

    from hospital_app.models import SignInCounter
    from hospital_app.web import ADDRESS_MESSAGE

    with fresh_app(migrated_url, PROXY_COUNT=1) as app:
        client = app.test_client()
        assert client.get("/login", headers={"X-Forwarded-For": forwarded}).status_code == 400
        response = client.post(
            "/login",
            data={
                "email": "a@example.org",
                "password": "x" * 12,
                "csrf_token": csrf_token(client, "/login"),
            },
            headers={"X-Forwarded-For": forwarded},
        )
        assert response.status_code == 400
        assert ADDRESS_MESSAGE in page_text(response)
        assert count(app, SignInCounter) == 0


def test_an_uploaded_file_name_is_shown_without_its_control_characters(app, client):
    import io

    from helpers import hidden_fields

    make_hospital(app)
    token = csrf_token(client, "/reports/import")
    checked = client.post(
        "/reports/import",
        data={
            "csrf_token": token,
            "dry_run": "y",
            "file": (io.BytesIO(csv_bytes([cells(report_date=today())])), "we\x00ek\u202e.csv"),
        },
        content_type="multipart/form-data",
    )
    assert checked.status_code == 200
    fields = hidden_fields(checked, "checked-")
    assert fields["checked-filename"] == "week.csv"
    response = client.post("/reports/import", data={"csrf_token": token, **fields})
    assert response.status_code == 303
    assert count(app, Report) == 2
