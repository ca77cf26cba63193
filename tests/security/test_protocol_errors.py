"""Requests too broken for any handler still get an error in the client's JSON shape.

aiohttp answers what it cannot parse (an oversized header or request line, a
method that is not a token, a header without a colon, a bad length) before any
route runs; those answers were plain text, which an SDK shows as an unreadable
error. Each case is sent byte by byte on its own connection.
"""

from __future__ import annotations

import socket

import orjson
import pytest

MOCK = """
providers:
  mock:
    type: mock
    models: [mock-1]
"""
LIMIT = 16384  # server.limits.max_header_bytes by default

BROKEN = {
    "oversized header": (b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
                         + b"a" * (LIMIT + 10) + b"\r\n\r\n"),
    "too-long URL": b"GET /v1/models?" + b"q" * (LIMIT + 10) + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "bad method": b"G\x01T /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "header without a colon": b"GET /v1/models HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n",
    "bad content length": (b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           b"Content-Length: ten\r\n\r\n"),
    "two lengths": (b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    "not HTTP at all": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
    "bad version": b"GET /v1/models HTTP/7.x\r\nHost: 127.0.0.1\r\n\r\n",
}


def exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `raw`, read until the daemon closes (it must: where a broken request ends is
    unknown): the status, headers and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize("raw", BROKEN.values(), ids=BROKEN.keys())
def test_what_aiohttp_cannot_parse_is_answered_as_openai_json(make_gateway, raw: bytes) -> None:
    gateway = make_gateway(MOCK)
    status, headers, body = exchange(gateway.server.port, raw)
    assert 400 <= status < 500, body
    assert headers["content-type"].startswith("application/json"), body
    error = orjson.loads(body)["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "bad_http_request"
    assert error["message"].startswith("The request is not valid HTTP")
    assert "\n" not in error["message"] and len(error["message"]) < 300
    assert gateway.openai().models.list().data  # and the daemon serves on


# Parsed, but refused by aiohttp before any route (and so the guard) runs.
UNROUTABLE = {
    "asterisk target": (404, b"OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
    "CONNECT": (404, b"CONNECT evil.example:443 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
    "unknown Expect": (417, b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: nonsense\r\n"
                            b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"),
}


@pytest.mark.parametrize(("status", "raw"), UNROUTABLE.values(), ids=UNROUTABLE.keys())
def test_what_no_route_can_take_is_answered_in_json(make_gateway, status: int, raw: bytes) -> None:
    gateway = make_gateway(MOCK)
    answered, headers, body = exchange(gateway.server.port, raw)
    assert answered == status, body
    assert headers["content-type"].startswith("application/json"), body
    assert orjson.loads(body)["error"]["message"]


def test_tls_on_the_plain_port_is_told_so(make_gateway) -> None:
    gateway = make_gateway(MOCK)
    _, _, body = exchange(gateway.server.port, BROKEN["not HTTP at all"])
    assert "use http://" in orjson.loads(body)["error"]["message"]


def test_the_daemon_process_serves_through_the_same_runner(start_daemon) -> None:
    state = start_daemon(MOCK)
    status, headers, body = exchange(state.port, BROKEN["oversized header"])
    assert status == 400 and headers["content-type"].startswith("application/json")
    assert orjson.loads(body)["error"]["code"] == "bad_http_request"
