"""Property-based tests (Hypothesis): every form, the import and the query string of every
list, fed random and nearly-valid values (strategies.py). Whatever is sent:

- the answer is never a 5xx;
- nothing is written unless the answer is the form's success redirect (303 to its page):
  every table is read before and after each example and compared row by row;
- after a success, the rows that changed are exactly those the form promised: the record
  with the values sent, normalised as rules.py says, its companions (a new hospital's first
  report) and one audit entry for each, and nothing else.

The budget and seed are the "suite" Hypothesis profile of conftest.py: a fixed number of
examples (HYPOTHESIS_EXAMPLES), derandomised, so CI runs the same cases each time.

Each test signs in once (the fixtures are per test, not per example) and every example reads
the state it needs (a record's current version) before it posts, so examples do not depend on
those before them; the database comparison makes each example's own effect visible."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from helpers import (
    PASSWORD,
    csrf_token,
    fetch,
    make_hospital,
    make_report,
    make_user,
    page_text,
    report_values,
    signed_in_client,
    today,
)
from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from sqlalchemy import delete as sa_delete
from sqlalchemy import select
from strategies import (
    STRANGE_NAMES,
    any_char,
    count_text,
    date_text,
    id_text,
    nasty_text,
    query_pairs,
    time_text,
)
from werkzeug.datastructures import MultiDict

from hospital_app import cycle, rules
from hospital_app.auth.passwords import password_matches
from hospital_app.extensions import db
from hospital_app.models import (
    Account,
    AuditEntry,
    ClosingException,
    FollowUp,
    Hospital,
    Report,
    ReportingSettings,
)

# --- The database before and after ---------------------------------------------------------------


def rows(app) -> dict[str, dict[tuple, dict[str, Any]]]:
    """Every row of every table, by table name and primary key."""
    with app.app_context():
        found = {}
        for table in db.metadata.sorted_tables:
            keys = [column.name for column in table.primary_key.columns]
            found[table.name] = {
                tuple(row[k] for k in keys): dict(row)
                for row in db.session.execute(select(table)).mappings()
            }
        return found


@dataclass
class Diff:
    added: dict[str, list[dict]] = field(default_factory=dict)
    removed: dict[str, list[dict]] = field(default_factory=dict)
    changed: dict[str, list[tuple[dict, dict]]] = field(default_factory=dict)
    before: dict = field(default_factory=dict, repr=False)  # every row, before the request

    # Whether the daily sums per region or the weekly counts per hospital changed: they
    # follow every change of a report (summary.py), so they are kept apart from the tables a
    # request promises to change; the app fixture checks after every test that they equal
    # the reports' sums.
    sums_changed: bool = False

    def tables(self) -> set[str]:
        return set(self.added) | set(self.removed) | set(self.changed)

    def __bool__(self) -> bool:
        return bool(self.tables()) or self.sums_changed  # a refused request changes none


def compare(before, after) -> Diff:
    diff = Diff(before=before)
    for name in before:
        old, new = before[name], after[name]
        if name in ("region_days", "hospital_weeks"):
            diff.sums_changed = diff.sums_changed or old != new
            continue
        if added := [new[k] for k in new.keys() - old.keys()]:
            diff.added[name] = added
        if removed := [old[k] for k in old.keys() - new.keys()]:
            diff.removed[name] = removed
        if changed := [(old[k], new[k]) for k in old.keys() & new.keys() if old[k] != new[k]]:
            diff.changed[name] = changed
    return diff


# Characters no stored text may hold, whatever the form: C0 and C1 controls (tab, line
# feeds and carriage return aside, which notes may hold) and the bidi overrides and isolates
# that make text read other than it is stored.
FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x80-\x9f\u202a-\u202e\u2066-\u2069]",
)


def assert_clean_text(diff: Diff) -> None:
    written = [row for rs in diff.added.values() for row in rs]
    written += [new for pairs in diff.changed.values() for _old, new in pairs]
    for row in written:
        for column, value in row.items():
            if isinstance(value, str) and column not in ("changes", "password_hash"):
                assert not FORBIDDEN.search(value), f"{column} stored {value!r}"


def send(app, client, method: str, url: str, **kwargs):
    """The request, its body read to the end (a streamed export fails there, if it fails),
    and what it changed in the database."""
    before = rows(app)
    response = client.open(url, method=method, **kwargs)
    response.get_data()
    assert response.status_code < 500, f"{method} {url} {kwargs!r}: {response.status_code}"
    diff = compare(before, rows(app))
    # How examples ended, for --hypothesis-show-statistics: the successes must be among them.
    if currently_in_test_context():
        event(f"{method} {response.status_code}{' wrote' if diff else ''}")
    assert_clean_text(diff)
    return response, diff


def assert_failure_counted(diff: Diff) -> None:
    """A failed sign-in (or a wrong current password) is counted once for each of its keys
    (the account, the address, the known browser: auth/throttle.py), and nothing else is
    written."""
    assert diff.tables() <= {"sign_in_counters"}, diff
    assert not diff.removed, diff
    counted = diff.added.get("sign_in_counters", []) + [
        new for _old, new in diff.changed.get("sign_in_counters", [])
    ]
    kinds = [row["key"].split(":", 1)[0] for row in counted]
    assert len(kinds) == len(set(kinds)) and set(kinds) <= {"account", "address", "device"}
    for old, new in diff.changed.get("sign_in_counters", []):
        # One more in the window, or the first of a new window.
        assert new["failures"] in (old["failures"] + 1, 1), (old, new)
    assert all(row["failures"] == 1 for row in diff.added.get("sign_in_counters", []))


def location(response) -> str:
    return response.headers.get("Location", "")


def redirected(response, pattern: str) -> re.Match | None:
    """The success redirect: a 303 whose path matches `pattern` (whole, without the query)."""
    if response.status_code != 303:
        return None
    return re.fullmatch(pattern, location(response).split("?")[0])


def assert_nothing_written(response, diff: Diff) -> None:
    assert not diff, f"{response.status_code} {location(response)} but wrote {diff}"


def audited(diff: Diff, *records: tuple[str, int], action: str | None = None) -> None:
    """One audit entry per record (of that action, when given), and no other."""
    entries = diff.added.get("audit_log", [])
    got = sorted((e["record_type"], e["record_id"], e["action"]) for e in entries)
    assert [g[:2] for g in got] == sorted(records), got
    assert action is None or {g[2] for g in got} <= {action}, got
    assert "audit_log" not in diff.removed and "audit_log" not in diff.changed


# --- Building a form's data ----------------------------------------------------------------------

MISSING = object()
SPACES = " \t\n\xa0\u2003\u3000"  # white space a person's value may come with (str.strip's)


def padded(valid: str) -> st.SearchStrategy[str]:
    """A valid value as people send it: as it is, or with white space around it."""
    pad = st.text(SPACES, max_size=3)
    return st.one_of(st.just(valid), st.builds(lambda a, b: a + valid + b, pad, pad))


@st.composite
def form_data(draw, fields: dict[str, st.SearchStrategy[str]], bad: dict, extra=True, max_broken=3):
    """A posted form: each field from its strategy of usable values, except a few (none, in
    many examples) that are missing, sent twice, or replaced by a wrong value; and perhaps
    parameters the form does not have."""
    broken = draw(st.sets(st.sampled_from(sorted(fields)), max_size=max_broken))
    pairs = []
    for name, usable in fields.items():
        if name not in broken:
            pairs.append((name, draw(usable)))
            continue
        how = draw(st.sampled_from(["wrong", "wrong", "missing", "twice"]))
        if how == "missing":
            continue
        pairs.append((name, draw(bad.get(name, nasty_text()))))
        if how == "twice":
            pairs.append((name, draw(usable)))
    if extra:
        pairs += draw(
            st.lists(
                st.tuples(
                    st.one_of(st.sampled_from(STRANGE_NAMES), st.text(any_char, max_size=8)),
                    nasty_text(20),
                ),
                max_size=2,
            )
        )
    return pairs


def with_version(pairs, version: int) -> list:
    """The form's hidden version as the page would have it: the record's current one (unless
    the example broke the field)."""
    return [(k, str(version) if k == "version" and v == "" else v) for k, v in pairs]


def typed_twice(pairs) -> list:
    """The password's confirmation repeats it (unless the example broke the field)."""
    password = sent(pairs, "password") or ""
    return [(k, password if k == "confirm" and v == "" else v) for k, v in pairs]


def form_of(pairs, token: str | None) -> MultiDict:
    data = MultiDict([p for p in pairs if p[0] != "csrf_token"])
    if token is not None:
        data.add("csrf_token", token)
    return data


# The usable values of a report's fields, and the wrong ones.
def report_fields(first_day_back: int = 0) -> dict[str, st.SearchStrategy[str]]:
    days = st.integers(min_value=first_day_back, max_value=first_day_back + 3000)
    figures = {
        "beds_total": st.sampled_from(["200", "1,200", "1 500", "300"]),
        "beds_occupied": st.sampled_from(["150", "0", "99"]),
        "icu_beds_total": st.sampled_from(["20", "25"]),
        "icu_beds_occupied": st.sampled_from(["12", "0", "20"]),
        "ventilators_total": st.sampled_from(["15", "0"]),
        "ventilators_in_use": st.sampled_from(["6", "0"]),
        "admissions": st.sampled_from(["30", "0", "100000"]),
        "discharges": st.sampled_from(["25", "0"]),
        "deaths": st.sampled_from(["1", "0"]),
    }
    fields = {
        "report_date": days.map(lambda k: (today() - timedelta(days=k)).isoformat()).flatmap(
            padded
        ),
        **{name: values.flatmap(padded) for name, values in figures.items()},
        "notes": st.one_of(
            st.just(""), st.text(st.characters(codec="utf-8", categories=["L", "N", "Zs"]))
        ),
    }
    return fields


def report_bad() -> dict[str, st.SearchStrategy[str]]:
    return {
        "report_date": date_text(today()),
        **{name: count_text() for name in rules.COUNT_FIELDS},
        "notes": st.one_of(nasty_text(), st.just("n" * (rules.NOTES_MAX + 1))),
    }


def sent(pairs, name: str) -> str | None:
    """What the app reads for `name`: the first value sent, None when missing."""
    return next((v for k, v in pairs if k == name), None)


def expected_report(pairs, prefix: str = "") -> dict:
    """The report row the rules make of what was sent."""
    values = {
        name: rules.parse_count(sent(pairs, prefix + name), name) for name in rules.COUNT_FIELDS
    }
    values["report_date"] = rules.parse_report_date(sent(pairs, prefix + "report_date"))
    values["notes"] = rules.strip_or_none(sent(pairs, prefix + "notes"))
    return values


def assert_report_row(row: dict, pairs, prefix: str = "") -> None:
    for name, value in expected_report(pairs, prefix).items():
        if name == "notes" and prefix:
            continue  # the grid has no notes column
        assert row[name] == value, (name, row[name], value)


# --- The state each test starts from -------------------------------------------------------------


@pytest.fixture
def world(app, client):
    """Two hospitals of two regions with a report each, an editor assigned to the first,
    and the administrator's signed-in browser with its CSRF token."""
    north = make_hospital(app)
    south = make_hospital(app, code="SRH-002", name="Southside Hospital", region="South")
    editor = make_user(app, "editor", email="editor@example.org", hospitals=(north,))
    return {
        "north": north,
        "south": south,
        "editor": editor,
        "client": client,
        "token": csrf_token(client),
        "report": make_report(app, north, report_date=today() - timedelta(days=2)),
    }


def the_record_or_any_id() -> st.SearchStrategy[str | None]:
    """None (the record's own id) in most examples, else any id (far out of range too)."""
    return st.sampled_from(["own", "own", "own", "any"]).flatmap(
        lambda kind: st.none() if kind == "own" else id_text()
    )


def token_or_not(token: str) -> st.SearchStrategy[str | None]:
    """The page's CSRF token: the forms' tests are about their fields (a missing or damaged
    token has its own test, test_a_form_without_its_token)."""
    return st.just(token)


# --- Hospitals -----------------------------------------------------------------------------------

HOSPITAL_FIELDS = {
    "code": st.integers(100, 999).map(lambda n: f"prp-{n}").flatmap(padded),
    "name": st.sampled_from(["General   Hospital", "Hôpital Saint-Éloi", "Ward 7"]).flatmap(padded),
    "region": st.sampled_from(["North", "north", "South", "West Coast"]).flatmap(padded),
    "city": st.sampled_from(["", "Ashford", "  Old   Town "]),
    "ownership": st.sampled_from(["public", "private", "non-profit"]),
}
HOSPITAL_BAD = {
    "code": st.one_of(nasty_text(30), st.just("A"), st.just("A" * 21), st.just("nrh-001")),
    "ownership": st.one_of(st.just("state"), nasty_text(10)),
    "name": st.one_of(nasty_text(), st.just("n" * (rules.NAME_MAX + 1))),
}


def kept(pairs, old: dict | None, names) -> list:
    """An edit posted without some of its fields leaves those as they are stored (WTForms
    reads a missing field as the record's value): the pairs, with the stored values added
    for the missing fields."""
    if old is None:
        return pairs
    missing = [n for n in names if sent(pairs, n) is None]
    return [*pairs, *((n, "" if old[n] is None else str(old[n])) for n in missing)]


def expected_hospital(diff: Diff, pairs, old: dict | None = None) -> dict:
    """The hospital row the rules make of what was sent: a region typed in another case is
    the spelling already stored."""
    pairs = kept(pairs, old, ("code", "name", "region", "city", "ownership"))
    region = rules.normalise_space(sent(pairs, "region"))
    stored = [h["region"] for h in diff.before["hospitals"].values()]
    region = next((r for r in stored if r.lower() == region.lower()), region)
    return {
        "code": rules.normalise_code(sent(pairs, "code")),
        "name": rules.normalise_space(sent(pairs, "name")),
        "region": region,
        "city": rules.strip_or_none(rules.normalise_space(sent(pairs, "city"))),
        "ownership": sent(pairs, "ownership"),
    }


@given(data=st.data())
def test_new_hospital(app, world, data):
    fields = {**HOSPITAL_FIELDS, **report_fields()}
    pairs = data.draw(form_data(fields, {**HOSPITAL_BAD, **report_bad()}))
    token = data.draw(token_or_not(world["token"]))
    response, diff = send(
        app, world["client"], "POST", "/hospitals/new", data=form_of(pairs, token)
    )
    done = redirected(response, r"/hospitals/(\d+)")
    if not done:
        assert_nothing_written(response, diff)
        return
    assert diff.tables() == {"hospitals", "hospital_stats", "audit_log"}, diff
    assert not diff.removed and not diff.changed
    [hospital], [report] = diff.added["hospitals"], diff.added["hospital_stats"]
    assert hospital["id"] == int(done.group(1))
    expected = expected_hospital(diff, pairs)
    assert {k: hospital[k] for k in expected} == expected
    assert report["hospital_id"] == hospital["id"]
    assert_report_row(report, pairs)
    audited(diff, ("hospital", hospital["id"]), ("report", report["id"]), action="create")


@given(data=st.data())
def test_edit_hospital(app, world, data):
    hid = world["north"]
    pairs = data.draw(form_data({**HOSPITAL_FIELDS, "version": st.just("")}, HOSPITAL_BAD))
    version = fetch(app, Hospital, hid).version
    pairs = with_version(pairs, version)
    token = data.draw(token_or_not(world["token"]))
    response, diff = send(
        app, world["client"], "POST", f"/hospitals/{hid}/edit", data=form_of(pairs, token)
    )
    if not redirected(response, rf"/hospitals/{hid}"):
        assert_nothing_written(response, diff)
        return
    if not diff:
        return  # "Nothing was changed."
    assert diff.tables() == {"hospitals", "audit_log"}, diff
    [(old, new)] = diff.changed["hospitals"]
    assert new["id"] == hid and new["version"] == version + 1
    expected = expected_hospital(diff, pairs, old)
    assert {k: new[k] for k in expected} == expected
    audited(diff, ("hospital", hid), action="update")


# --- Reports -------------------------------------------------------------------------------------


@given(data=st.data())
def test_new_report(app, world, data):
    hid = world["north"]
    pairs = data.draw(form_data({**report_fields(), "then": st.just("next")}, report_bad()))
    query = data.draw(st.sampled_from(["", "?entry=1", "?entry=1&region=North", "?date=x"]))
    token = data.draw(token_or_not(world["token"]))
    response, diff = send(
        app,
        world["client"],
        "POST",
        f"/hospitals/{hid}/reports/new{query}",
        data=form_of(pairs, token),
    )
    if not redirected(response, rf"/hospitals/{hid}|/entry|/hospitals/\d+/reports/new"):
        assert_nothing_written(response, diff)
        return
    assert diff.tables() == {"hospital_stats", "audit_log"}, diff
    assert not diff.removed and not diff.changed
    [report] = diff.added["hospital_stats"]
    assert report["hospital_id"] == hid
    assert_report_row(report, pairs)
    audited(diff, ("report", report["id"]), action="create")


@given(data=st.data())
def test_edit_report(app, world, data):
    rid = world["report"]
    pairs = data.draw(form_data({**report_fields(2), "version": st.just("")}, report_bad()))
    version = fetch(app, Report, rid).version
    pairs = with_version(pairs, version)
    token = data.draw(token_or_not(world["token"]))
    response, diff = send(
        app, world["client"], "POST", f"/reports/{rid}/edit", data=form_of(pairs, token)
    )
    if not redirected(response, rf"/hospitals/{world['north']}"):
        assert_nothing_written(response, diff)
        return
    if not diff:
        return
    assert diff.tables() == {"hospital_stats", "audit_log"}, diff
    [(old, new)] = diff.changed["hospital_stats"]
    assert new["id"] == rid and new["version"] == version + 1
    names = [*rules.COUNT_FIELDS, "notes"]
    old = {**old, "report_date": old["report_date"].isoformat()}
    assert_report_row(new, kept(pairs, old, [*names, "report_date"]))
    audited(diff, ("report", rid), action="update")


@given(data=st.data())
def test_the_grid(app, world, data):
    """Both hospitals' rows on one day: every filled row saved, or none."""
    day = data.draw(
        st.one_of(
            st.integers(0, 400).map(lambda k: (today() - timedelta(days=k)).isoformat()),
            date_text(today()),
        )
    )
    fields, bad = report_fields(), report_bad()
    pairs = []
    for hid in (world["north"], world["south"]):
        row = data.draw(
            form_data(
                {n: fields[n] for n in rules.COUNT_FIELDS},
                bad,
                extra=False,
            )
        )
        empty = data.draw(st.booleans())
        pairs += [(f"h{hid}-{n}", "" if empty and n in rules.DAY_FIGURES else v) for n, v in row]
    pairs += data.draw(
        st.lists(
            st.tuples(
                st.one_of(id_text().map(lambda i: f"h{i}-beds_total"), st.sampled_from(["h-"])),
                count_text(),
            ),
            max_size=1,
        )
    )
    token = data.draw(token_or_not(world["token"]))
    response, diff = send(
        app,
        world["client"],
        "POST",
        "/entry/grid",
        query_string={"date": day},
        data=form_of(pairs, token),
    )
    if not redirected(response, r"/entry"):
        assert_nothing_written(response, diff)
        return
    assert diff.tables() == {"hospital_stats", "audit_log"}, diff
    added = diff.added["hospital_stats"]
    filled = {
        hid
        for hid in (world["north"], world["south"])
        if any((sent(pairs, f"h{hid}-{n}") or "").strip() for n in rules.DAY_FIGURES)
    }
    assert {r["hospital_id"] for r in added} == filled and len(added) == len(filled)
    for report in added:
        assert report["report_date"] == rules.parse_report_date(day)
        prefix = f"h{report['hospital_id']}-"
        assert_report_row(report, [*pairs, (prefix + "report_date", day)], prefix)
    audited(diff, *(("report", r["id"]) for r in added), action="create")


# --- Accounts ------------------------------------------------------------------------------------

ACCOUNT_FIELDS = {
    "email": st.integers(0, 10**6).map(lambda n: f"Person{n}@Example.org").flatmap(padded),
    "display_name": st.sampled_from(["Ann  Lee", "Zoë Ødegård", "李 四"]).flatmap(padded),
    "role": st.sampled_from(["admin", "editor", "viewer"]),
    "hospital_codes": st.sampled_from(["NRH-001", "SRH-002"]),
}
ACCOUNT_BAD = {
    "email": st.one_of(nasty_text(), st.just("a@" + "b" * 300)),
    "role": st.one_of(st.just("root"), nasty_text(10)),
    "hospital_codes": st.one_of(st.just("NONE-1"), nasty_text(20)),
}
PASSWORDS = st.sampled_from(["a long pass phrase", "another fine password 42"])


def assert_account(app, row: dict, pairs) -> None:
    assert row["email"] == rules.normalise_email(sent(pairs, "email"))
    assert row["display_name"] == rules.normalise_space(sent(pairs, "display_name"))
    assert row["role"] == sent(pairs, "role")


def assignments(app, diff: Diff, account_id: int) -> set[int]:
    with app.app_context():
        account = db.session.get(Account, account_id)
        return {h.id for h in account.hospitals}


@given(data=st.data())
def test_new_account(app, world, data):
    fields = {**ACCOUNT_FIELDS, "password": PASSWORDS, "confirm": st.just("")}
    pairs = data.draw(form_data(fields, ACCOUNT_BAD))
    # The confirmation repeats the password, unless it was the field broken.
    pairs = [
        (k, sent(pairs, "password") or "" if k == "confirm" and v == "" else v) for k, v in pairs
    ]
    token = data.draw(token_or_not(world["token"]))
    response, diff = send(app, world["client"], "POST", "/accounts/new", data=form_of(pairs, token))
    if not redirected(response, r"/accounts"):
        assert_nothing_written(response, diff)
        return
    assert diff.tables() <= {"users", "hospital_editors", "audit_log"}, diff
    [account] = diff.added["users"]
    assert_account(app, account, pairs)
    with app.app_context():
        assert password_matches(db.session.get(Account, account["id"]), sent(pairs, "password"))
    codes = {v for k, v in pairs if k == "hospital_codes"}
    editors = {r["hospital_id"] for r in diff.added.get("hospital_editors", [])}
    expected = {world["north"]: "NRH-001", world["south"]: "SRH-002"}
    assert editors == {h for h, c in expected.items() if c in codes and account["role"] == "editor"}
    audited(diff, ("account", account["id"]), action="create")


@given(data=st.data())
def test_edit_account(app, world, data):
    aid = world["editor"]
    pairs = data.draw(form_data({**ACCOUNT_FIELDS, "version": st.just("")}, ACCOUNT_BAD))
    version = fetch(app, Account, aid).version
    pairs = with_version(pairs, version)
    token = data.draw(token_or_not(world["token"]))
    response, diff = send(
        app, world["client"], "POST", f"/accounts/{aid}/edit", data=form_of(pairs, token)
    )
    if not redirected(response, r"/accounts"):
        assert_nothing_written(response, diff)
        return
    if not diff:
        return
    assert diff.tables() <= {"users", "hospital_editors", "audit_log"}, diff
    [(old, new)] = diff.changed["users"]
    assert new["id"] == aid
    assert_account(app, new, kept(pairs, old, ("email", "display_name", "role")))
    audited(diff, ("account", aid), action="update")


@given(data=st.data())
def test_reset_password(app, world, data):
    aid = world["editor"]
    fields = {"password": PASSWORDS, "confirm": st.just(""), "version": st.just("")}
    pairs = data.draw(form_data(fields, {"password": st.one_of(nasty_text(), st.just("p" * 300))}))
    version = fetch(app, Account, aid).version
    pairs = with_version(pairs, version)
    pairs = [
        (k, sent(pairs, "password") or "" if k == "confirm" and v == "" else v) for k, v in pairs
    ]
    token = data.draw(token_or_not(world["token"]))
    response, diff = send(
        app, world["client"], "POST", f"/accounts/{aid}/password", data=form_of(pairs, token)
    )
    if not redirected(response, rf"/accounts/{aid}/edit"):
        assert_nothing_written(response, diff)
        return
    assert diff.tables() <= {"users", "audit_log"}, diff
    [(old, new)] = diff.changed["users"]
    assert new["session_generation"] == old["session_generation"] + 1
    with app.app_context():
        assert password_matches(db.session.get(Account, aid), sent(pairs, "password"))


@pytest.fixture
def viewer(app):
    make_user(app, "viewer", email="viewer@example.org")
    client = signed_in_client(app, "viewer@example.org")
    return client, csrf_token(client, "/account/password")


@given(data=st.data())
def test_change_own_password(app, world, viewer, data):
    client, token = viewer
    fields = {"current": st.just(PASSWORD), "password": PASSWORDS, "confirm": st.just("")}
    pairs = data.draw(form_data(fields, {"current": st.one_of(nasty_text(), st.just("wrong"))}))
    pairs = [
        (k, sent(pairs, "password") or "" if k == "confirm" and v == "" else v) for k, v in pairs
    ]
    response, diff = send(app, client, "POST", "/account/password", data=form_of(pairs, token))
    if redirected(response, r"/"):
        assert diff.tables() <= {"users", "audit_log"}, diff
        return
    # A wrong current password counts as a failed sign-in, and is all that is written.
    assert_failure_counted(diff)


@given(data=st.data())
def test_deactivate_and_activate(app, world, data):
    aid = world["editor"]
    action = data.draw(st.sampled_from(["deactivate", "activate"]))
    version_kind = data.draw(st.one_of(st.sampled_from(["current", ""]), id_text(), nasty_text(10)))
    token = data.draw(token_or_not(world["token"]))
    version = fetch(app, Account, aid).version
    sent_version = str(version) if version_kind == "current" else version_kind
    data_ = form_of([("version", sent_version)], token)
    response, diff = send(app, world["client"], "POST", f"/accounts/{aid}/{action}", data=data_)
    if not diff:
        return
    # Only the one account's is_active (and its sessions' generation) and the audit entry.
    assert response.status_code == 303
    assert diff.tables() == {"users", "audit_log"}
    [(old, new)] = diff.changed["users"]
    assert new["is_active"] is (action == "activate") and old["is_active"] is not new["is_active"]
    audited(diff, ("account", aid))


FORMS = [
    "/hospitals/new",
    "/hospitals/1/edit",
    "/hospitals/2/archive",
    "/hospitals/2/restore",
    "/hospitals/1/reports/new",
    "/reports/3/edit",
    "/reports/3/delete",
    "/entry/grid",
    "/accounts/new",
    "/accounts/2/edit",
    "/accounts/2/password",
    "/accounts/2/deactivate",
    "/accounts/2/activate",
    "/account/password",
    "/settings",
    "/settings/exceptions/new",
    "/reports/import",
    "/logout",
    "/review/sign-off",
    "/review/3/reopen",
    "/followup/1/check",
    "/followup/1/send-back",
    "/reports/3/restore",
    "/reports/3/revert/1",
    "/accounts/2/unblock",
]


@given(data=st.data())
def test_a_form_without_its_token(app, world, data):
    """Every form posted with its fields but no CSRF token, or a damaged one: 400, and
    nothing written (the ids are those of `world`'s records)."""
    url = data.draw(st.sampled_from(FORMS))
    token = data.draw(
        st.one_of(
            st.none(),
            nasty_text(40),
            st.just(world["token"][:-1]),
            st.just(world["token"] + "x"),
        )
    )
    pairs = data.draw(form_data({**HOSPITAL_FIELDS, **report_fields()}, report_bad()))
    response, diff = send(app, world["client"], "POST", url, data=form_of(pairs, token))
    assert response.status_code == 400
    assert_nothing_written(response, diff)


# --- Sign-in -------------------------------------------------------------------------------------


@given(data=st.data())
def test_sign_in(app, world, data):
    anon = app.test_client()
    token = csrf_token(anon, "/login")
    fields = {
        "email": st.sampled_from(["admin@example.org", "ADMIN@example.org ", "nobody@x.org"]),
        "password": st.sampled_from([PASSWORD, "wrong password"]),
    }
    pairs = data.draw(form_data(fields, {"email": st.one_of(nasty_text(), st.just("a" * 300))}))
    nxt = data.draw(st.one_of(st.just(""), nasty_text(20), st.just("//evil.org")))
    response, diff = send(
        app, anon, "POST", "/login", query_string={"next": nxt}, data=form_of(pairs, token)
    )
    if response.status_code == 303:
        # Signed in: the account's sign-in time, and its failures cleared.
        assert diff.tables() <= {"users", "sign_in_counters"}, diff
        assert not diff.added.get("users") and not diff.removed.get("users")
        return
    # A failure is counted, nothing else.
    assert_failure_counted(diff)


# --- Settings and closing exceptions -------------------------------------------------------------


@given(data=st.data())
def test_settings(app, world, data):
    fields = {
        "deadline_time": st.sampled_from(["12:00", "09:30", "23:59"]).flatmap(padded),
        "deadline_day_offset": st.sampled_from(["0", "1"]),
        "close_after_days": st.sampled_from(["", "0", "7", "366"]).flatmap(padded),
        "version": st.just(""),
    }
    bad = {"deadline_time": time_text(), "close_after_days": count_text()}
    pairs = data.draw(form_data(fields, bad))
    with app.app_context():
        stored = db.session.get(ReportingSettings, 1)
        version = 0 if stored is None else stored.version
    pairs = with_version(pairs, version)
    token = data.draw(token_or_not(world["token"]))
    response, diff = send(app, world["client"], "POST", "/settings", data=form_of(pairs, token))
    if not redirected(response, r"/settings"):
        assert_nothing_written(response, diff)
        return
    if not diff:
        return
    assert diff.tables() == {"reporting_settings", "audit_log"}, diff
    [row] = diff.added.get("reporting_settings", []) or [
        new for _old, new in diff.changed["reporting_settings"]
    ]
    assert row["deadline_time"].strftime("%H:%M") == sent(pairs, "deadline_time").strip()
    assert row["deadline_day_offset"] == int(sent(pairs, "deadline_day_offset"))
    days = (sent(pairs, "close_after_days") or "").strip()
    assert row["close_after_days"] == (int(days) if days else None)


@given(data=st.data())
def test_new_closing_exception(app, world, data):
    days = st.integers(0, 60).map(lambda k: (today() - timedelta(days=k)).isoformat())
    fields = {
        "hospital": st.sampled_from([str(world["north"]), str(world["south"])]),
        "date_from": days.flatmap(padded),
        "date_to": st.just(today().isoformat()).flatmap(padded),
        "hours": st.sampled_from(["1", "48", "720"]).flatmap(padded),
        "reason": st.sampled_from(["A late fax", "  Audit   fix "]),
    }
    bad = {
        "hospital": id_text(),
        "date_from": date_text(today()),
        "date_to": date_text(today()),
        "hours": count_text(),
        "reason": st.one_of(nasty_text(), st.just("r" * 501)),
    }
    pairs = data.draw(form_data(fields, bad))
    token = data.draw(token_or_not(world["token"]))
    response, diff = send(
        app, world["client"], "POST", "/settings/exceptions/new", data=form_of(pairs, token)
    )
    if not redirected(response, r"/settings/exceptions"):
        assert_nothing_written(response, diff)
        return
    assert diff.tables() == {"closing_exceptions", "audit_log"}, diff
    [row] = diff.added["closing_exceptions"]
    assert row["hospital_id"] == int(sent(pairs, "hospital"))
    assert row["date_from"] == rules.parse_report_date(sent(pairs, "date_from"))
    assert row["date_to"] == rules.parse_report_date(sent(pairs, "date_to"))
    assert row["reason"] == rules.strip_or_none(sent(pairs, "reason"))
    audited(diff, ("exception", row["id"]), action="create")


@given(data=st.data())
def test_end_closing_exception(app, world, data):
    target = data.draw(the_record_or_any_id())
    version_kind = data.draw(st.one_of(st.just("current"), id_text(), nasty_text(10)))
    token = data.draw(token_or_not(world["token"]))
    with app.app_context():
        # An open one: those ended by earlier examples stay ended.
        exception = db.session.scalar(
            select(ClosingException).where(ClosingException.ended_at.is_(None))
        )
        if exception is None:
            exception = ClosingException(
                hospital_id=world["north"],
                date_from=today() - timedelta(days=20),
                date_to=today() - timedelta(days=10),
                ends_at=cycle.clock() + timedelta(hours=5),
                reason="Late figures",
            )
            db.session.add(exception)
            db.session.commit()
        eid, version = exception.id, exception.version
    target = target or str(eid)
    sent_version = str(version) if version_kind == "current" else version_kind
    response, diff = send(
        app,
        world["client"],
        "POST",
        f"/settings/exceptions/{target}/end",
        data=form_of([("version", sent_version)], token),
    )
    if not diff:
        return
    assert redirected(response, r"/settings/exceptions")
    assert diff.tables() == {"closing_exceptions", "audit_log"}, diff
    [(_old, new)] = diff.changed["closing_exceptions"]
    assert new["id"] == eid and new["ended_at"] is not None
    # A form without a version is checked by the UPDATE's own condition (conflicts.py).
    assert sent_version.strip() in ("", str(version))


# --- Archive and delete confirmations ------------------------------------------------------------


@given(data=st.data())
def test_archive_restore_and_delete(app, world, data):
    hid = world["south"]
    # Everything drawn first: what is drawn may not depend on the state earlier examples left.
    action = data.draw(st.sampled_from(["archive", "restore", "delete"]))
    target = data.draw(the_record_or_any_id())
    version_kind = data.draw(st.one_of(st.sampled_from(["current", ""]), nasty_text(10)))
    token = data.draw(token_or_not(world["token"]))
    with app.app_context():
        hospital = db.session.get(Hospital, hid)
        if action == "delete":
            if not hospital.is_active:
                hospital.is_active = True  # a report of an archived hospital cannot be deleted
                db.session.commit()
            record = db.session.scalar(select(Report).where(Report.hospital_id == hid))
            url = "/reports/{}/delete"
        else:
            record = hospital
            url = f"/hospitals/{{}}/{action}"
        rid = record.id if record is not None else None
        version = record.version if record is not None else None
    if rid is None:  # every report of the hospital deleted by earlier examples
        rid = make_report(app, hid, report_date=today() - timedelta(days=3))
        version = 1
    url = url.format(target or rid)
    sent_version = str(version) if version_kind == "current" else version_kind
    response, diff = send(
        app, world["client"], "POST", url, data=form_of([("version", sent_version)], token)
    )
    if not diff:
        return
    assert redirected(response, rf"/hospitals/{hid}")
    if action == "delete":
        assert diff.tables() == {"hospital_stats", "audit_log"}, diff
        assert [r["id"] for r in diff.removed["hospital_stats"]] == [rid]
        audited(diff, ("report", rid), action="delete")
    else:
        assert diff.tables() == {"hospitals", "audit_log"}, diff
        [(_old, new)] = diff.changed["hospitals"]
        assert new["is_active"] is (action == "restore")
        audited(diff, ("hospital", hid))


# --- The CSV import ------------------------------------------------------------------------------

IMPORT_COLUMNS = ["hospital_code", "report_date", *rules.COUNT_FIELDS, "notes"]


@st.composite
def csv_files(draw) -> tuple[bytes, list[dict]]:
    """A CSV file: a header (valid, or with columns missing, unknown, repeated) and rows of
    nearly-valid cells, encoded as a spreadsheet may save it."""
    header = list(IMPORT_COLUMNS)
    shape = draw(st.sampled_from(["good", "good", "good", "missing", "unknown", "twice", "junk"]))
    if shape == "missing":
        header.remove(draw(st.sampled_from(header)))
    elif shape == "unknown":
        header.insert(draw(st.integers(0, len(header))), draw(st.text(any_char, max_size=10)))
    elif shape == "twice":
        header.append(draw(st.sampled_from(header)))
    elif shape == "junk":
        header = draw(st.lists(st.text(any_char, max_size=10), max_size=12))
    fields = report_fields()
    fields["hospital_code"] = st.sampled_from(["NRH-001", "srh-002", " NRH-001 "])
    bad = {**report_bad(), "hospital_code": st.one_of(nasty_text(20), st.just("NONE-1"))}
    for name in ("report_date", *rules.COUNT_FIELDS):
        # A cell's white space is what a spreadsheet keeps: spaces (a line break in a cell
        # is a wrong value, among the bad ones).
        fields[name] = (
            fields[name]
            .map(lambda v: v.strip(SPACES))
            .flatmap(lambda v: st.sampled_from([v, f" {v}", f"{v}  "]))
        )
    table = []
    for _ in range(draw(st.integers(1, 3))):
        broken = draw(st.sampled_from([0, 0, 3]))
        values = dict(draw(form_data(fields, bad, extra=False, max_broken=broken)))
        table.append([values.get(name, "") for name in header])
    delimiter = draw(st.sampled_from([",", ",", ";", "\t"]))

    def cell(text: str) -> str:
        if any(c in text for c in f'"{delimiter}\r\n'):
            return '"' + text.replace('"', '""') + '"'
        return text

    lines = [delimiter.join(cell(c) for c in row) for row in [header, *table]]
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = end.join(lines) + draw(st.sampled_from(["", end]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    raw = text.encode(encoding, errors="replace")
    if shape == "junk" and draw(st.booleans()):
        raw = draw(st.binary(max_size=200))
    return raw, header


@given(data=st.data())
def test_import(app, world, data):
    raw, _header = data.draw(csv_files())
    dry_run = data.draw(st.booleans())
    name = data.draw(st.one_of(st.just("reports.csv"), nasty_text(30)))
    form = {"file": (io.BytesIO(raw), name), "csrf_token": world["token"]}
    if dry_run:
        form["dry_run"] = data.draw(st.sampled_from(["y", "1", "on", "\x00"]))
    response, diff = send(
        app,
        world["client"],
        "POST",
        "/reports/import",
        data=form,
        content_type="multipart/form-data",
    )
    if not redirected(response, r"/reports/import"):
        assert_nothing_written(response, diff)
        return
    assert not dry_run or form["dry_run"] not in ("y", "1", "on")
    assert diff.tables() <= {"hospital_stats", "audit_log"}, diff
    assert "hospital_stats" not in diff.removed
    added = diff.added.get("hospital_stats", [])
    changed = [new for _old, new in diff.changed.get("hospital_stats", [])]
    codes = {world["north"]: "NRH-001", world["south"]: "SRH-002"}
    text = raw.decode("utf-8-sig", errors="replace")
    for row in added + changed:
        # Each row written was in the file: its hospital's code and its date are there.
        assert codes[row["hospital_id"]] in text.upper()
        assert row["report_date"].isoformat() in text
    entries = sorted(
        (e["record_type"], e["record_id"], e["action"]) for e in diff.added.get("audit_log", [])
    )
    assert entries == sorted(
        [("report", r["id"], "create") for r in added]
        + [("report", r["id"], "update") for r in changed]
    )


# --- The lists' query strings --------------------------------------------------------------------


def list_args() -> dict[str, st.SearchStrategy[str]]:
    """Every list's parameters, each with usable and wrong values."""
    day = date_text(today())
    text = st.one_of(st.sampled_from(["North", "north", "NRH", "srh-002", ""]), nasty_text(30))
    return {
        "page": st.one_of(st.sampled_from(["1", "2", "0", "-1"]), count_text(), id_text()),
        "q": text,
        "region": text,
        "hospital": st.one_of(text, id_text()),
        "ownership": st.one_of(st.sampled_from(["public", "private", ""]), nasty_text(10)),
        "status": st.one_of(
            st.sampled_from(["active", "archived", "all", "deactivated", ""]), nasty_text(10)
        ),
        "sort": st.one_of(
            st.sampled_from(["name", "-name", "occupancy", "-date", "date", "due", "-late"]),
            nasty_text(10),
        ),
        "role": st.one_of(st.sampled_from(["admin", "editor", ""]), nasty_text(10)),
        "user": st.one_of(id_text(), nasty_text(10)),
        "record_type": st.one_of(st.sampled_from(["hospital", "report", ""]), nasty_text(10)),
        "action": st.one_of(st.sampled_from(["create", "update", "delete"]), nasty_text(10)),
        "date": day,
        "date_from": day,
        "date_to": day,
        "from": day,
        "to": day,
        "threshold": st.one_of(
            st.sampled_from(["90", "92.5", "100", "0", "101", "NaN", "inf", "90%", "1e400"]),
            count_text(),
        ),
        "days": st.one_of(st.sampled_from(["30", "90", "365", "7"]), count_text()),
        "entry": st.sampled_from(["1", "0", ""]),
    }


LIST_PAGES = [
    "/",
    "/dashboard/missing",
    "/dashboard/outliers",
    "/dashboard/pressure",
    "/hospitals",
    "/hospitals/export.csv",
    "/reports",
    "/reports/export.csv",
    "/accounts",
    "/audit",
    "/timeliness",
    "/timeliness/export.csv",
    "/entry",
    "/entry/grid",
    "/reminders",
    "/settings/exceptions",
    "/reports/import/prefilled.csv",
    "/reports/import/template.csv",
]


@pytest.mark.parametrize("path", LIST_PAGES)
@given(data=st.data())
def test_list_query_strings(app, world, path, data):
    pairs = data.draw(query_pairs(list_args()))
    response, diff = send(app, world["client"], "GET", path, query_string=pairs)
    assert_nothing_written(response, diff)
    assert response.status_code in (200, 400), (pairs, response.status_code)


@given(data=st.data())
def test_record_pages_and_their_ids(app, world, data):
    """A record's pages with any id (far beyond the databases' integers too) and any query
    string: the page, or a 404, never a 5xx."""
    template = data.draw(
        st.sampled_from(
            [
                "/hospitals/{}",
                "/hospitals/{}/edit",
                "/hospitals/{}/history",
                "/hospitals/{}/archive",
                "/hospitals/{}/reports/new",
                "/reports/{}/edit",
                "/reports/{}/delete",
                "/reports/{}/history",
                "/accounts/{}/edit",
                "/accounts/{}/history",
                "/accounts/{}/deactivate",
                "/accounts/{}/password",
                "/review/{}/reopen",
            ]
        )
    )
    ident = data.draw(
        st.one_of(st.sampled_from([str(world["north"]), str(world["report"])]), id_text())
    )
    pairs = data.draw(query_pairs(list_args()))
    response, diff = send(app, world["client"], "GET", template.format(ident), query_string=pairs)
    assert_nothing_written(response, diff)
    assert response.status_code in (200, 303, 400, 404, 409, 410), response.status_code


# --- Reviewers, the review, follow-up, restore and revert, unblocking (issue 13) -----------------

REVIEWER_FIELDS = {
    **{k: v for k, v in ACCOUNT_FIELDS.items() if k != "hospital_codes"},  # editors' only
    "role": st.sampled_from(["reviewer", "reviewer", "reviewer", "viewer"]),
    "region_names": st.sampled_from(["North", "South"]),
    "all_regions": st.sampled_from(["", "y"]),
}
REVIEWER_BAD = {
    **ACCOUNT_BAD,
    "role": st.one_of(st.just("reviewers"), nasty_text(10)),
    "region_names": st.one_of(st.sampled_from(["Atlantis", "north", "North "]), nasty_text(20)),
    "all_regions": st.one_of(st.sampled_from(["false", "0", "on"]), nasty_text(5)),
}


def ticked(pairs, name: str) -> bool:
    """What a WTForms BooleanField reads: anything but missing, "" or "false"."""
    value = sent(pairs, name)
    return value is not None and value not in ("", "false")


def regions_of(app, account_id: int) -> set[str]:
    with app.app_context():
        return set(db.session.get(Account, account_id).regions)


@pytest.fixture
def reviewer(app, world):
    return make_user(app, "reviewer", email="reviewer@example.org", regions=("North",))


@given(data=st.data())
def test_reviewer_account_new_and_edit(app, world, reviewer, data):
    """A reviewer's regions (or all of them) on the new and the edit account forms: only a
    reviewer keeps them, and exactly those ticked."""
    new = data.draw(st.booleans())
    fields = {**REVIEWER_FIELDS}
    if new:
        fields |= {"password": PASSWORDS, "confirm": st.just("")}
    else:
        fields |= {"version": st.just("")}
    pairs = data.draw(form_data(fields, REVIEWER_BAD))
    if new:
        pairs, url = typed_twice(pairs), "/accounts/new"
    else:
        pairs, url = with_version(pairs, fetch(app, Account, reviewer).version), None
        url = f"/accounts/{reviewer}/edit"
    token = data.draw(token_or_not(world["token"]))
    response, diff = send(app, world["client"], "POST", url, data=form_of(pairs, token))
    if not redirected(response, r"/accounts"):
        assert_nothing_written(response, diff)
        return
    if not diff:
        return
    assert diff.tables() <= {"users", "account_regions", "hospital_editors", "audit_log"}, diff
    if new:
        [account] = diff.added["users"]
        aid = account["id"]
        assert_account(app, account, pairs)
        audited(diff, ("account", aid), action="create")
    else:
        [(old, account)] = diff.changed["users"]
        aid = account["id"]
        assert aid == reviewer
        assert_account(app, account, kept(pairs, old, ("email", "display_name", "role")))
        audited(diff, ("account", aid), action="update")
    regions = regions_of(app, aid)
    if account["role"] != "reviewer":
        assert regions == set() and account["all_regions"] is False
        return
    assert account["all_regions"] is ticked(pairs, "all_regions")
    if account["all_regions"]:
        assert regions == set()  # every region, those added later too: none by name
        return
    # The regions ticked, in any case, stored as the hospitals spell them.
    spelt = {"north": "North", "south": "South"}
    ticks = [rules.normalise_space(v) for k, v in pairs if k == "region_names"]
    chosen = {spelt[r.lower()] for r in ticks if r}  # an empty tick is none
    if new or sent(pairs, "region_names") is not None:
        assert regions == chosen
    else:  # an edit without the field keeps the stored ones (WTForms reads the record)
        assert regions and regions <= {"North", "South"}


REVIEW_ARGS = {
    "date": date_text(today()),
    "region": st.one_of(st.sampled_from(["North", "South", "north", "Atlantis"]), nasty_text(20)),
    "status": st.one_of(st.sampled_from(["open", "checked", "sent back", ""]), nasty_text(10)),
    "reason": st.one_of(st.sampled_from([*rules.FOLLOW_UP_REASONS, "none", ""]), nasty_text(10)),
    "page": st.one_of(st.sampled_from(["1", "2", "0"]), count_text(), id_text()),
}


@pytest.mark.parametrize("path", ["/review", "/followup"])
@given(data=st.data())
def test_review_and_followup_query_strings(app, world, path, data):
    pairs = data.draw(query_pairs(REVIEW_ARGS))
    response, diff = send(app, world["client"], "GET", path, query_string=pairs)
    assert_nothing_written(response, diff)
    assert response.status_code in (200, 400), (pairs, response.status_code)


def unsigned(app, region: str, day) -> list[Report]:
    with app.app_context():
        reports = db.session.scalars(
            select(Report)
            .join(Hospital)
            .where(
                Hospital.region == region,
                Report.report_date == day,
                Report.signed_off_at.is_(None),
            )
            .order_by(Report.id)
        ).all()
        return [(r.id, r.version) for r in reports]


@given(data=st.data())
def test_sign_off(app, world, data):
    region = data.draw(st.sampled_from(["North", "South"]))
    back = data.draw(st.integers(0, 30))
    day = today() - timedelta(days=back)
    fresh = data.draw(st.booleans())
    seen_kind = data.draw(st.sampled_from(["current", "current", "current", "", "stale", "junk"]))
    fields = {
        "date": padded(day.isoformat()),
        "region": padded(region),
        "seen": st.just(""),
        "confirm_missing": st.sampled_from(["y", ""]),
    }
    bad = {
        "date": date_text(today()),
        "region": st.one_of(st.sampled_from(["Atlantis", "north"]), nasty_text(20)),
        "seen": st.one_of(st.just("1:1,2:1"), nasty_text(30)),
    }
    pairs = data.draw(form_data(fields, bad))
    junk = data.draw(nasty_text(20))
    hid = world["north"] if region == "North" else world["south"]
    if fresh:  # a report of the day to sign off (earlier examples signed theirs off)
        with app.app_context():
            there = db.session.scalar(
                select(Report.id).where(Report.hospital_id == hid, Report.report_date == day)
            )
        if there is None:
            make_report(app, hid, report_date=day)
    to_sign = unsigned(app, region, day)
    seen = {
        "current": ",".join(f"{i}:{v}" for i, v in to_sign),
        "": "",
        "stale": ",".join(f"{i}:{v + 1}" for i, v in to_sign),
        "junk": junk,
    }[seen_kind]
    pairs = [(k, seen if k == "seen" and v == "" else v) for k, v in pairs]
    response, diff = send(
        app, world["client"], "POST", "/review/sign-off", data=form_of(pairs, world["token"])
    )
    if not redirected(response, r"/review"):
        assert_nothing_written(response, diff)
        return
    if not diff:
        return  # nothing to sign off
    assert diff.tables() == {"hospital_stats", "audit_log"}, diff
    assert sent(pairs, "seen") == seen and seen_kind == "current"
    assert rules.parse_report_date(sent(pairs, "date")) == day
    changed = diff.changed["hospital_stats"]
    assert sorted(new["id"] for _old, new in changed) == [i for i, _v in to_sign]
    for old, new in changed:
        assert old["signed_off_at"] is None and new["signed_off_at"] is not None
        assert new["signed_off_by_id"] is not None and new["reopen_reason"] is None
        assert {k for k in new if new[k] != old[k]} <= {
            "signed_off_at",
            "signed_off_by_id",
            "version",
            "updated_at",
        }
    audited(diff, *(("report", i) for i, _v in to_sign))


def signed_off(app, report_id: int, signed: bool) -> int:
    """The report signed off (by the administrator, as a reviewer leaves it) or not; its
    version."""
    with app.app_context():
        report = db.session.get(Report, report_id)
        if (report.signed_off_at is not None) is not signed:
            report.signed_off_by_id = (
                db.session.scalar(select(Account.id).where(Account.role == "admin"))
                if signed
                else None
            )
            report.signed_off_at = cycle.clock() if signed else None
            db.session.commit()
        return report.version


@given(data=st.data())
def test_reopen(app, world, data):
    rid = world["report"]
    signed = data.draw(st.sampled_from([True, True, True, False]))
    target = data.draw(the_record_or_any_id())
    fields = {
        "reason": st.sampled_from(["Admissions look doubled", "  Wrong   day \n"]),
        "version": st.just(""),
    }
    bad = {
        "reason": st.one_of(
            nasty_text(), st.just("r" * (rules.REOPEN_REASON_MAX + 1)), st.just(" \t")
        ),
        "version": st.one_of(id_text(), nasty_text(10)),
    }
    pairs = data.draw(form_data(fields, bad))
    version = signed_off(app, rid, signed)
    pairs = with_version(pairs, version)
    url = f"/review/{target or rid}/reopen"
    response, diff = send(app, world["client"], "POST", url, data=form_of(pairs, world["token"]))
    if not redirected(response, r"/review"):
        assert_nothing_written(response, diff)
        return
    if not diff:
        return  # not signed off: nothing to reopen
    assert (target or str(rid)) == str(rid) and signed
    assert diff.tables() == {"hospital_stats", "audit_log"}, diff
    [(old, new)] = diff.changed["hospital_stats"]
    assert new["id"] == rid and old["signed_off_at"] is not None
    assert new["signed_off_at"] is None and new["signed_off_by_id"] is None
    assert new["reopen_reason"] == rules.strip_or_none(sent(pairs, "reason"))
    assert (sent(pairs, "version") or "").strip() in ("", str(version))
    audited(diff, ("report", rid))


def open_follow_up(app, report_id: int, status: str) -> tuple[int, int]:
    """The report's follow-up (made if it has none), in `status`: (id, version)."""
    with app.app_context():
        follow_up = db.session.scalar(select(FollowUp).where(FollowUp.report_id == report_id))
        if follow_up is None:
            follow_up = FollowUp(report_id=report_id, fields="admissions", reason="surge")
            db.session.add(follow_up)
        follow_up.status = status
        db.session.commit()
        return follow_up.id, follow_up.version


@given(data=st.data())
def test_follow_up_check_and_send_back(app, world, data):
    action = data.draw(st.sampled_from(["check", "send-back"]))
    status = data.draw(st.sampled_from(["open", "open", "checked", "sent back"]))
    target = data.draw(the_record_or_any_id())
    fields = {
        "comment": st.sampled_from(["", "Please check the admissions", "  Typed   twice \n"]),
        "version": st.just(""),
    }
    bad = {
        "comment": st.one_of(nasty_text(), st.just("c" * (rules.FOLLOW_UP_COMMENT_MAX + 1))),
        "version": st.one_of(id_text(), nasty_text(10)),
    }
    pairs = data.draw(form_data(fields, bad))
    # The list's filters to go back to (a wrong one is a 400, as on every page).
    query = data.draw(
        st.one_of(st.just([]), st.just([("status", "open")]), query_pairs(REVIEW_ARGS))
    )
    fid, version = open_follow_up(app, world["report"], status)
    pairs = with_version(pairs, version)
    response, diff = send(
        app,
        world["client"],
        "POST",
        f"/followup/{target or fid}/{action}",
        query_string=query,
        data=form_of(pairs, world["token"]),
    )
    if not redirected(response, r"/followup"):
        assert_nothing_written(response, diff)
        return
    if not diff:
        return  # in that state already, or changed meanwhile
    assert (target or str(fid)) == str(fid)
    assert diff.tables() == {"follow_ups", "audit_log"}, diff
    [(old, new)] = diff.changed["follow_ups"]
    assert new["id"] == fid and old["status"] == status
    assert new["status"] == ("checked" if action == "check" else "sent back")
    assert new["comment"] == rules.strip_or_none(sent(pairs, "comment"))
    assert new["reviewer_id"] is not None and new["checked_at"] is not None
    assert action == "check" or new["comment"]
    assert (sent(pairs, "version") or "").strip() in ("", str(version))
    audited(diff, ("follow-up", fid))


# Admissions of 40 days, steady but not constant: 85 is far from them (as in test_followup).
STEADY = [10 + (i * 7) % 9 for i in range(40)]


@pytest.fixture
def steady(app, world):
    """A hospital whose 40 days before the day before yesterday admitted a steady number."""
    end = today() - timedelta(days=2)
    reports = [
        {"report_date": end - timedelta(days=len(STEADY) - i), "admissions": v}
        for i, v in enumerate(STEADY)
    ]
    reports[-1]["beds_total"] = 201
    return make_hospital(app, code="STD-003", name="Steady Hospital", reports=tuple(reports))


def forget_day(app, hospital_id: int, day) -> None:
    """No report for `day` (an earlier example's), so each example adds one."""
    with app.app_context():
        report = db.session.scalar(
            select(Report).where(Report.hospital_id == hospital_id, Report.report_date == day)
        )
        if report is not None:
            db.session.execute(sa_delete(FollowUp).where(FollowUp.report_id == report.id))
            db.session.delete(report)
            db.session.commit()


REASON_FIELDS = {
    "confirm_outlier": st.sampled_from(["y", "y", ""]),
    "follow_up_reason": st.sampled_from([*rules.FOLLOW_UP_REASONS, ""]),
    "follow_up_note": st.sampled_from(["", "Flu ward opened", "  Twelve   extra beds \n"]),
}
REASON_BAD = {
    "follow_up_reason": st.one_of(st.sampled_from(["Surge", "none", "surge "]), nasty_text(10)),
    "follow_up_note": st.one_of(
        nasty_text(), st.just("n" * (rules.FOLLOW_UP_NOTE_MAX + 1)), st.just(" \t")
    ),
}


@given(data=st.data())
def test_report_with_a_confirmation_reason(app, world, steady, data):
    """Unusual figures confirmed on the report form: the report and its follow-up with the
    reason and note sent, or nothing."""
    day = today() - timedelta(days=1)
    fields = {
        **report_fields(),
        "report_date": padded(day.isoformat()),
        "admissions": st.sampled_from(["85", "85", "12"]).flatmap(padded),
        **REASON_FIELDS,
    }
    pairs = data.draw(form_data(fields, {**report_bad(), **REASON_BAD}))
    forget_day(app, steady, day)
    response, diff = send(
        app,
        world["client"],
        "POST",
        f"/hospitals/{steady}/reports/new",
        data=form_of(pairs, world["token"]),
    )
    if not redirected(response, rf"/hospitals/{steady}|/entry|/hospitals/\d+/reports/new"):
        assert_nothing_written(response, diff)
        return
    assert diff.tables() <= {"hospital_stats", "follow_ups", "audit_log"}, diff
    assert not diff.removed and not diff.changed
    [report] = diff.added["hospital_stats"]
    assert report["hospital_id"] == steady
    assert_report_row(report, pairs)
    follow_ups = diff.added.get("follow_ups", [])
    if not follow_ups:
        assert not report["outlier_confirmed"]
        audited(diff, ("report", report["id"]), action="create")
        return
    [follow_up] = follow_ups
    assert report["outlier_confirmed"] and ticked(pairs, "confirm_outlier")
    assert follow_up["report_id"] == report["id"] and follow_up["status"] == "open"
    assert follow_up["reason"] == sent(pairs, "follow_up_reason")
    assert follow_up["reason"] in rules.FOLLOW_UP_REASONS
    assert follow_up["note"] == rules.strip_or_none(sent(pairs, "follow_up_note"))
    assert follow_up["reason"] != "other" or follow_up["note"]
    audited(diff, ("report", report["id"]), ("follow-up", follow_up["id"]), action="create")


@given(data=st.data())
def test_grid_with_a_confirmation_reason(app, world, steady, data):
    """The steady hospital's row of the grid with unusual figures and the confirmation."""
    day = today() - timedelta(days=1)
    fields = {
        **{n: report_fields()[n] for n in rules.COUNT_FIELDS},
        "admissions": st.sampled_from(["85", "85", "12"]).flatmap(padded),
        **REASON_FIELDS,
    }
    row = data.draw(form_data(fields, {**report_bad(), **REASON_BAD}, extra=False))
    pairs = [(f"h{steady}-{n}", v) for n, v in row]
    forget_day(app, steady, day)
    response, diff = send(
        app,
        world["client"],
        "POST",
        "/entry/grid",
        query_string={"date": day.isoformat(), "region": "North"},
        data=form_of(pairs, world["token"]),
    )
    if not redirected(response, r"/entry"):
        assert_nothing_written(response, diff)
        return
    assert diff.tables() <= {"hospital_stats", "follow_ups", "audit_log"}, diff
    [report] = diff.added["hospital_stats"]
    assert report["hospital_id"] == steady and report["report_date"] == day
    prefix = f"h{steady}-"
    assert_report_row(report, [*pairs, (prefix + "report_date", day.isoformat())], prefix)
    records = [("report", report["id"])]
    for follow_up in diff.added.get("follow_ups", []):
        assert follow_up["report_id"] == report["id"] and report["outlier_confirmed"]
        assert ticked(row, "confirm_outlier")
        assert follow_up["reason"] in (None, *rules.FOLLOW_UP_REASONS)
        if follow_up["reason"] is not None:
            assert follow_up["reason"] == sent(row, "follow_up_reason")
            assert follow_up["note"] == rules.strip_or_none(sent(row, "follow_up_note"))
        records.append(("follow-up", follow_up["id"]))
    audited(diff, *records, action="create")


def deleted_report(app, world) -> int:
    """A report of the south hospital deleted through its form (its deletion in the audit
    trail, as restoring needs): its id."""
    hid = world["south"]
    day = today() - timedelta(days=5)
    with app.app_context():
        there = db.session.scalar(
            select(Report.id).where(Report.hospital_id == hid, Report.report_date == day)
        )
    rid = there or make_report(app, hid, report_date=day)
    client = world["client"]
    version = fetch(app, Report, rid).version
    data = {"csrf_token": world["token"], "version": str(version)}
    assert client.post(f"/reports/{rid}/delete", data=data).status_code == 303
    return rid


@given(data=st.data())
def test_restore(app, world, data):
    target = data.draw(the_record_or_any_id())
    pairs = data.draw(
        form_data({"version": st.sampled_from(["", "0", "1"])}, {"version": nasty_text(10)})
    )
    rid = deleted_report(app, world)
    url = f"/reports/{target or rid}/restore"
    response, diff = send(app, world["client"], "POST", url, data=form_of(pairs, world["token"]))
    if not redirected(response, rf"/reports/{rid}/history"):
        assert_nothing_written(response, diff)
        return
    assert (target or str(rid)) == str(rid)
    assert diff.tables() == {"hospital_stats", "audit_log"}, diff
    [report] = diff.added["hospital_stats"]
    assert report["id"] == rid and report["hospital_id"] == world["south"]
    assert report["report_date"] == today() - timedelta(days=5)
    audited(diff, ("report", rid), action="restored")


@given(data=st.data())
def test_revert(app, world, data):
    rid = world["report"]
    admissions = data.draw(st.integers(0, 300))
    which = data.draw(st.sampled_from(["first", "first", "last", "any"]))
    any_id = data.draw(id_text())
    target = data.draw(the_record_or_any_id())
    version_kind = data.draw(
        st.one_of(st.just("current"), st.sampled_from(["current", ""]), id_text(), nasty_text(10))
    )
    with app.app_context():
        report = db.session.get(Report, rid)
        report.admissions = admissions  # a change of its own, in its history
        report.signed_off_at = report.signed_off_by_id = None
        db.session.commit()
        version = report.version
        entries = db.session.scalars(
            select(AuditEntry.id)
            .where(AuditEntry.record_type == "report", AuditEntry.record_id == rid)
            .order_by(AuditEntry.id)
        ).all()
    entry = {"first": str(entries[0]), "last": str(entries[-1]), "any": any_id}[which]
    sent_version = str(version) if version_kind == "current" else version_kind
    response, diff = send(
        app,
        world["client"],
        "POST",
        f"/reports/{target or rid}/revert/{entry}",
        data=form_of([("version", sent_version)], world["token"]),
    )
    if not redirected(response, rf"/reports/{rid}/history"):
        assert_nothing_written(response, diff)
        return
    if not diff:
        return  # the figures of that version already
    assert (target or str(rid)) == str(rid) and entry in map(str, entries)
    assert diff.tables() == {"hospital_stats", "audit_log"}, diff
    [(_old, new)] = diff.changed["hospital_stats"]
    assert new["id"] == rid and new["version"] == version + 1
    if entry == str(entries[0]):  # the figures the report was made with
        assert new["admissions"] == int(report_values()["admissions"])
    assert sent_version.strip() in ("", str(version))
    audited(diff, ("report", rid), action="reverted")


@given(data=st.data())
def test_unblock(app, world, data):
    aid = world["editor"]
    failures = data.draw(st.sampled_from([0, 2, 5, 5]))
    target = data.draw(the_record_or_any_id())
    extra = data.draw(
        st.lists(st.tuples(st.sampled_from(STRANGE_NAMES), nasty_text(10)), max_size=2)
    )
    guesser = app.test_client()
    for _ in range(failures):
        guesser.post(
            "/login",
            data={
                "email": "editor@example.org",
                "password": "wrong password",
                "csrf_token": csrf_token(guesser, "/login"),
            },
        )
    response, diff = send(
        app,
        world["client"],
        "POST",
        f"/accounts/{target or aid}/unblock",
        data=form_of(extra, world["token"]),
    )
    if not redirected(response, rf"/accounts/{aid}/edit"):
        assert_nothing_written(response, diff)
        return
    if not diff:
        return
    assert (target or str(aid)) == str(aid)
    assert diff.tables() == {"sign_in_counters", "audit_log"}, diff
    assert [r["key"] for r in diff.removed["sign_in_counters"]] == ["account:editor@example.org"]
    assert not diff.added.get("sign_in_counters") and not diff.changed.get("sign_in_counters")
    audited(diff, ("account", aid), action="unblock")


# --- What the suite found, kept as plain examples ------------------------------------------------


@pytest.mark.parametrize("blank_value", [" ", "\t", "\u3000", "\xa0\n"])
@pytest.mark.parametrize(
    "url, field, message",
    [
        ("/hospitals/{north}/reports/new", "report_date", rules.REPORT_DATE_REQUIRED_MESSAGE),
        ("/hospitals/new", "report_date", rules.REPORT_DATE_REQUIRED_MESSAGE),
        ("/settings", "deadline_time", "Enter the time of day reports are due by"),
        ("/settings/exceptions/new", "date_from", "Enter the first day to open"),
        ("/settings/exceptions/new", "date_to", "Enter the last day to open"),
    ],
)
def test_a_required_day_or_time_of_white_space_alone(app, world, url, field, message, blank_value):
    """Found by test_new_closing_exception: a required date (or time of day) sent as white
    space alone passed InputRequired, was read as nothing and reached the database as NULL
    (a 500). It is the field's 'enter …' message now, and nothing is written."""
    valid = {
        "report_date": today().isoformat(),
        "code": "WS-1",
        "name": "White Space Hospital",
        "region": "North",
        "ownership": "public",
        "beds_total": "10",
        "beds_occupied": "5",
        "icu_beds_total": "2",
        "icu_beds_occupied": "1",
        "ventilators_total": "1",
        "ventilators_in_use": "0",
        "admissions": "1",
        "discharges": "1",
        "deaths": "0",
        "deadline_time": "12:00",
        "deadline_day_offset": "1",
        "close_after_days": "7",
        "version": "0",
        "hospital": str(world["north"]),
        "date_from": today().isoformat(),
        "date_to": today().isoformat(),
        "hours": "5",
        "reason": "A late fax",
    }
    data = form_of([*valid.items(), (field, blank_value)][:-1], world["token"])
    data.setlist(field, [blank_value])
    response, diff = send(app, world["client"], "POST", url.format(north=world["north"]), data=data)
    assert response.status_code == 422
    assert message in page_text(response)
    assert_nothing_written(response, diff)
