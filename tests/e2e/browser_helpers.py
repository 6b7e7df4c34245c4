"""What the browser tests share besides fixtures: the desktop window size and signing in
through the real login form. The fixtures (the server, the browser, its pages) are in
conftest.py."""

from __future__ import annotations

from helpers import PASSWORD
from playwright.sync_api import expect

DESKTOP = {"width": 1280, "height": 900}


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    """Through the real login form, as a person does."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".flash--success")).to_contain_text("Signed in as")
