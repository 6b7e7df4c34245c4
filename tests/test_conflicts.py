"""Two people edit the same record: the second save never silently erases the first.

Each test opens the form twice, as two people in two browsers would (each page carries the
record's version), lets the first person save, then checks that the second person's save
writes nothing, answers 409, names the first person and shows both sets of values, and that
saving again from that answer applies the second person's values knowingly.
"""

from __future__ import annotations

import re

from helpers import (
    CSRF_RE,
    count,
    fetch,
    hospital_form,
    make_hospital,
    make_report,
    make_user,
    page_text,
    report_form,
    signed_in_client,
)

from hospital_app.models import Account, AuditEntry, Hospital, Report

VERSION_RE = re.compile(r'name="version" type="hidden" value="(\d*)"')


def opened(client, url: str) -> dict:
    """What a page's form will send back: its CSRF token and the version it was opened at."""
    html = client.get(url).get_data(as_text=True)
    token, version = CSRF_RE.search(html), VERSION_RE.search(html)
    assert token and version, f"{url} has no CSRF token or no version field"
    return {"csrf": token.group(1), "version": version.group(1)}


def second_person(app, name: str = "Bea Second"):
    make_user(app, "admin", email="bea@example.org", name=name)
    return signed_in_client(app, "bea@example.org")


def audit_count(app, record_type: str, record_id: int) -> int:
    return count(
        app, AuditEntry, AuditEntry.record_type == record_type, AuditEntry.record_id == record_id
    )


def test_a_hospital_saved_by_one_is_not_overwritten_by_the_other(app, client):
    hospital_id = make_hospital(app)
    bea = second_person(app)
    url = f"/hospitals/{hospital_id}/edit"
    ada_form, bea_form = opened(client, url), opened(bea, url)

    first = client.post(
        url, data={**hospital_form(ada_form["csrf"], name="Ada's Name"), "version": "1"}
    )
    assert first.status_code == 303
    entries = audit_count(app, "hospital", hospital_id)

    second = bea.post(
        url,
        data={
            **hospital_form(bea_form["csrf"], name="Bea's Name", city="Bristol"),
            "version": bea_form["version"],
        },
    )
    assert second.status_code == 409
    text = page_text(second)
    assert "Ada Admin <admin@example.org> changed this hospital at" in text
    assert "after you opened it, so nothing was saved" in text
    # Theirs beside yours, for each field that differs, and only those.
    assert "Name Ada's Name Bea's Name" in text
    assert "City Ashford Bristol" in text
    assert "Region North North" not in text
    saved = fetch(app, Hospital, hospital_id)
    assert (saved.name, saved.city, saved.version) == ("Ada's Name", "Ashford", 2)
    assert audit_count(app, "hospital", hospital_id) == entries  # nothing more happened
    # Bea's input is still in the form, which now carries the version she has seen.
    html = second.get_data(as_text=True)
    assert 'value="Bea&#39;s Name"' in html
    assert VERSION_RE.search(html).group(1) == "2"

    # Saving again is a knowing choice: it applies her values over Ada's.
    again = bea.post(
        url,
        data={**hospital_form(bea_form["csrf"], name="Bea's Name", city="Bristol"), "version": 2},
    )
    assert again.status_code == 303
    saved = fetch(app, Hospital, hospital_id)
    assert (saved.name, saved.city, saved.version) == ("Bea's Name", "Bristol", 3)


def test_a_report_edited_by_an_editor_meanwhile_is_not_overwritten(app, client, login_as):
    hospital_id = make_hospital(app, reports=())
    report_id = make_report(app, hospital_id, beds_occupied=150)
    editor = login_as("editor", hospitals=(hospital_id,))
    url = f"/reports/{report_id}/edit"
    admin_form, editor_form = opened(client, url), opened(editor, url)

    assert (
        editor.post(
            url, data={**report_form(editor_form["csrf"], beds_occupied=160), "version": 1}
        ).status_code
        == 303
    )
    late = client.post(
        url,
        data={
            **report_form(admin_form["csrf"], beds_occupied=150, deaths=3),
            "version": admin_form["version"],
        },
    )
    assert late.status_code == 409
    text = page_text(late)
    assert "Editor Person <editor1@example.org> changed this report at" in text
    assert "Occupied beds 160 150" in text
    assert "Deaths 1 3" in text
    saved = fetch(app, Report, report_id)
    assert (saved.beds_occupied, saved.deaths, saved.version) == (160, 1, 2)


def test_deleting_a_report_someone_changed_meanwhile_deletes_nothing(app, client, login_as):
    hospital_id = make_hospital(app, reports=())
    report_id = make_report(app, hospital_id)
    editor = login_as("editor", hospitals=(hospital_id,))
    delete_page = opened(client, f"/reports/{report_id}/delete")
    edit_page = opened(editor, f"/reports/{report_id}/edit")
    editor.post(
        f"/reports/{report_id}/edit",
        data={**report_form(edit_page["csrf"], admissions=99), "version": edit_page["version"]},
    )

    response = client.post(
        f"/reports/{report_id}/delete",
        data={"csrf_token": delete_page["csrf"], "version": delete_page["version"]},
    )
    assert response.status_code == 409
    text = page_text(response)
    assert "Editor Person <editor1@example.org> changed this report at" in text
    assert "Delete the report of" in text  # asked again, with the figures as they are now
    assert fetch(app, Report, report_id) is not None

    # Confirming from that page deletes it.
    fresh = opened(client, f"/reports/{report_id}/delete")
    assert fresh["version"] == "2"
    response = client.post(
        f"/reports/{report_id}/delete", data={"csrf_token": fresh["csrf"], "version": "2"}
    )
    assert response.status_code == 303
    assert fetch(app, Report, report_id) is None


def test_archiving_from_a_page_opened_before_an_edit_archives_nothing(app, client):
    hospital_id = make_hospital(app)
    bea = second_person(app)
    stale = opened(bea, f"/hospitals/{hospital_id}/archive")
    edit_page = opened(client, f"/hospitals/{hospital_id}/edit")
    client.post(
        f"/hospitals/{hospital_id}/edit",
        data={**hospital_form(edit_page["csrf"], name="Renamed"), "version": "1"},
    )

    response = bea.post(
        f"/hospitals/{hospital_id}/archive",
        data={"csrf_token": stale["csrf"], "version": stale["version"]},
        follow_redirects=True,
    )
    text = page_text(response)
    assert "Ada Admin <admin@example.org> changed this hospital at" in text
    assert "Check the hospital below, then try again." in text
    assert fetch(app, Hospital, hospital_id).is_active is True

    fresh = opened(bea, f"/hospitals/{hospital_id}/archive")
    bea.post(
        f"/hospitals/{hospital_id}/archive",
        data={"csrf_token": fresh["csrf"], "version": fresh["version"]},
    )
    assert fetch(app, Hospital, hospital_id).is_active is False


def test_an_account_edited_by_another_administrator_is_not_overwritten(app, client, admin_id):
    target = make_user(app, "viewer", email="val@example.org", name="Val Viewer")
    bea = second_person(app)
    url = f"/accounts/{target}/edit"
    ada_form, bea_form = opened(client, url), opened(bea, url)
    account = {"email": "val@example.org", "role": "viewer", "hospital_codes": ""}
    client.post(
        url,
        data={
            **account,
            "display_name": "Val V.",
            "csrf_token": ada_form["csrf"],
            "version": ada_form["version"],
        },
    )

    response = bea.post(
        url,
        data={
            **account,
            "display_name": "Valerie",
            "csrf_token": bea_form["csrf"],
            "version": bea_form["version"],
        },
    )
    assert response.status_code == 409
    assert "Name Val V. Valerie" in page_text(response)
    assert fetch(app, Account, target).display_name == "Val V."

    # Deactivating from the page opened before that edit is refused too.
    response = bea.post(
        f"/accounts/{target}/deactivate",
        data={"csrf_token": bea_form["csrf"], "version": bea_form["version"]},
        follow_redirects=True,
    )
    assert "Ada Admin <admin@example.org> changed this account at" in page_text(response)
    assert fetch(app, Account, target).is_active is True


def test_a_damaged_version_field_is_an_error_not_a_save(app, client):
    hospital_id = make_hospital(app)
    page = opened(client, f"/hospitals/{hospital_id}/edit")
    response = client.post(
        f"/hospitals/{hospital_id}/edit",
        data={**hospital_form(page["csrf"], name="Changed"), "version": "seven"},
    )
    assert response.status_code == 422
    assert "This form was damaged in transit: reload the page." in page_text(response)
    assert fetch(app, Hospital, hospital_id).name == "Northside Regional Hospital"


def test_every_page_that_changes_a_record_carries_its_current_version(app, client, admin_id):
    hospital_id = make_hospital(app, reports=())
    report_id = make_report(app, hospital_id)
    target = make_user(app, "viewer", email="val@example.org")
    with app.app_context():
        from hospital_app.extensions import db

        db.session.get(Hospital, hospital_id).city = "Elsewhere"
        db.session.get(Report, report_id).deaths = 4
        db.session.commit()
    assert opened(client, f"/hospitals/{hospital_id}/edit")["version"] == "2"
    assert opened(client, f"/hospitals/{hospital_id}/archive")["version"] == "2"
    assert opened(client, f"/reports/{report_id}/edit")["version"] == "2"
    assert opened(client, f"/reports/{report_id}/delete")["version"] == "2"
    assert opened(client, f"/accounts/{target}/edit")["version"] == "1"
    assert opened(client, f"/accounts/{target}/deactivate")["version"] == "1"


def test_a_report_deleted_meanwhile_says_who_deleted_it(app, client, login_as):
    hospital_id = make_hospital(app, reports=())
    report_id = make_report(app, hospital_id)
    editor = login_as("editor", hospitals=(hospital_id,))
    edit_page = opened(editor, f"/reports/{report_id}/edit")
    delete_page = opened(client, f"/reports/{report_id}/delete")
    client.post(
        f"/reports/{report_id}/delete",
        data={"csrf_token": delete_page["csrf"], "version": delete_page["version"]},
    )

    response = editor.post(
        f"/reports/{report_id}/edit",
        data={**report_form(edit_page["csrf"], deaths=2), "version": edit_page["version"]},
    )
    assert response.status_code == 410
    text = page_text(response)
    assert "Ada Admin <admin@example.org> deleted the report of" in text
    assert "so nothing was changed" in text
    assert f'href="/hospitals/{hospital_id}"' in response.get_data(as_text=True)
    assert count(app, Report) == 0
    assert editor.get("/reports/987654/edit").status_code == 404  # never existed: plain 404


def test_a_damaged_version_on_a_button_changes_nothing(app, client, admin_id):
    hospital_id = make_hospital(app, reports=())
    report_id = make_report(app, hospital_id)
    target = make_user(app, "viewer", email="val@example.org")
    token = opened(client, f"/hospitals/{hospital_id}/archive")["csrf"]
    damaged = {"csrf_token": token, "version": "1x"}

    archived = client.post(f"/hospitals/{hospital_id}/archive", data=damaged, follow_redirects=True)
    assert "This form was damaged in transit: reload the page. Nothing was changed." in (
        page_text(archived)
    )
    deactivated = client.post(f"/accounts/{target}/deactivate", data=damaged, follow_redirects=True)
    assert "damaged in transit" in page_text(deactivated)
    deleted = client.post(f"/reports/{report_id}/delete", data=damaged)
    assert deleted.status_code == 422
    assert "This form was damaged in transit: reload the page." in page_text(deleted)

    assert fetch(app, Hospital, hospital_id).is_active is True
    assert fetch(app, Account, target).is_active is True
    assert fetch(app, Report, report_id) is not None
