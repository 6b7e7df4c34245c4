"""A request body that cannot be read, sent to gunicorn over a raw socket: a malformed chunked
encoding (bad chunk sizes, missing terminators, a body cut short) is a 400 page, and nothing
is written (issue 14, point 1; the test client's case is in test_bad_input.py)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest
from helpers import count

from hospital_app.models import AuditEntry, Hospital, SignInCounter

BAD_CHUNKED = [
    b"zz\r\nemail=a\r\n0\r\n\r\n",  # a chunk size that is not hexadecimal
    b"5\r\nabc\r\n0\r\n\r\n",  # a chunk shorter than its size
    b"3\r\nabcXX0\r\n\r\n",  # no CRLF after the chunk
    b"-1\r\nabc\r\n0\r\n\r\n",  # a negative size
    b"3\r\nabc\r\n",  # no last chunk: the body ends early
]


def raw_post(url: str, path: str, body: bytes) -> bytes:
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("body", BAD_CHUNKED, ids=repr)
@pytest.mark.parametrize("path", ["/login", "/hospitals/new"])
def test_a_malformed_chunked_body_is_a_400(app, live_server, path, body):
    before = count(app, Hospital), count(app, SignInCounter), count(app, AuditEntry)
    answer = raw_post(live_server.url, path, body)
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"Internal" not in answer
    assert (count(app, Hospital), count(app, SignInCounter), count(app, AuditEntry)) == before
