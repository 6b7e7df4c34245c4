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
