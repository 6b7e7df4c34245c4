"""A person's browser as plain HTTP, for tests that talk to gunicorn without Chromium: its own
cookies, redirects kept as answers, error statuses returned rather than raised.

(tests/e2e/test_gunicorn.py has its own copy of _open and _NoRedirect; the two can share this
module.)"""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import NamedTuple

TIMEOUT = 60  # seconds per request: far above normal, bounded if the server hangs
# A form's own token, or the sign-out form's (its attributes in another order).
TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Answer(NamedTuple):
    status: int
    location: str | None
    body: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Keep the redirect itself (urllib then raises it as an HTTPError): it is the answer."""

    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def _open(self, request) -> Answer:
        try:
            with self.opener.open(request, timeout=TIMEOUT) as response:
                return Answer(
                    response.status, response.headers.get("Location"), response.read().decode()
                )
        except urllib.error.HTTPError as error:
            with error:
                body = error.read().decode(errors="replace")
                return Answer(error.code, error.headers.get("Location"), body)

    def get(self, path: str) -> Answer:
        return self._open(urllib.parse.urljoin(self.base, path))

    def post(self, path: str, data: dict) -> Answer:
        request = urllib.request.Request(  # noqa: S310 (our http URL)
            urllib.parse.urljoin(self.base, path),
            data=urllib.parse.urlencode(data).encode(),
            method="POST",
        )
        return self._open(request)

    @staticmethod
    def token(page: Answer) -> str:
        assert page.status == 200, page.body
        match = TOKEN_RE.search(page.body)
        assert match, "no CSRF token on the page"
        return match.group(1)
