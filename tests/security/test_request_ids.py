"""A client's `x-request-id` is kept only when it is plain printable ASCII.

The id goes back in a response header, into every log line, the usage ledger
and the CLI's tables. A byte that is not UTF-8 became a lone surrogate that
SQLite refused: the ledger lost the whole batch of rows it came with.
"""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import httpx
import pytest

MOCK = """
providers:
  mock:
    type: mock
    models: [mock-1]
"""
BODY = b'{"model": "mock-1", "messages": [{"role": "user", "content": "hi"}]}'


def chat_with_id(port: int, request_id: bytes) -> tuple[int, str]:
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nx-request-id: " + request_id
            + b"\r\nContent-Length: %d\r\n\r\n" % len(BODY))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + BODY)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    headers = dict(line.split(b": ", 1) for line in rest.partition(b"\r\n\r\n")[0].split(b"\r\n"))
    return int(status_line.split()[1]), headers[b"x-request-id"].decode("latin-1")


@pytest.mark.parametrize("sent", [b"abc\x9bdef", b"\xc2\x9b2J", b"tab\there", b"caf\xc3\xa9"])
def test_an_id_that_is_not_printable_ascii_is_replaced(make_gateway, isolated_env: Path,
                                                       sent: bytes) -> None:
    gateway = make_gateway(MOCK)
    status, returned = chat_with_id(gateway.server.port, sent)
    assert status == 200
    assert returned.startswith("req_") and returned.isascii() and returned.isprintable()
    gateway.wait_idle()
    stats = httpx.get(gateway.url + "/admin/stats", headers=gateway.admin_headers()).json()
    assert [entry["request_id"] for entry in stats["recent"]] == [returned]
    flushed = httpx.post(gateway.url + "/admin/usage/flush", headers=gateway.admin_headers())
    assert flushed.status_code == 200
    with sqlite3.connect(isolated_env / "usage.sqlite3") as db:  # the ledger kept the row
        assert [row[0] for row in db.execute("SELECT request_id FROM requests")] == [returned]


def test_a_printable_id_is_kept(make_gateway) -> None:
    gateway = make_gateway(MOCK)
    assert chat_with_id(gateway.server.port, b"trace-42/[/]:x")[1] == "trace-42/[/]:x"
