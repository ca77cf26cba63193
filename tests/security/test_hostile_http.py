"""Hostile HTTP, byte by byte: what no client library would send, answered without a 500.

Each case once got past the daemon's checks: a body whose framing or encoding
is broken, a credential with bytes that are not ASCII, a Host name that only
looks like a loopback address.
"""

from __future__ import annotations

import socket

import httpx
import pytest

MOCK = """
providers:
  mock:
    type: mock
    models: [mock-1]
"""
JWT_AUTH = """
server:
  auth:
    jwt: {secret: env:TEAM_JWT_SECRET, audience: llmp-team}
""" + MOCK
BODY = b'{"model": "mock-1", "messages": [{"role": "user", "content": "hi"}]}'


def exchange(port: int, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """One raw request on its own connection: the status and the body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + b"\r\n" + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def post(path: str, *headers: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close",
             b"Content-Type: application/json", *headers]
    return b"".join(line + b"\r\n" for line in lines)


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
def test_a_body_that_cannot_be_decoded_is_a_400_in_the_wire_format(make_gateway, path: str) -> None:
    gateway = make_gateway(MOCK)
    status, body = exchange(gateway.server.port, post(
        path, b"Content-Encoding: gzip", b"Content-Length: %d" % len(BODY)), BODY)
    assert status == 400, body
    error = httpx.Response(400, content=body).json()["error"]
    assert "could not be read" in error["message"] and "gzip" in error["message"]
    assert error["type"] == "invalid_request_error"
    answer = gateway.openai().chat.completions.create(
        model="mock-1", messages=[{"role": "user", "content": "still here"}])
    assert answer.choices[0].message.content == "still here"


def test_non_ascii_credentials_are_refused_not_crashed_on(make_gateway, monkeypatch) -> None:
    monkeypatch.setenv("TEAM_JWT_SECRET", "a-long-shared-secret-for-hs256-tokens-0123456789")
    gateway = make_gateway(JWT_AUTH)
    port = gateway.server.port
    admin, _ = exchange(port, post("/admin/shutdown", b"Authorization: Bearer \xff\xfe",
                                   b"Content-Length: 0"))
    assert admin == 401
    for credential in (b"Authorization: Bearer eyJ\xff.eyJhbGciOi.x", b"x-api-key: \xc3\xa9t\xc3\xa9",
                       b"Authorization: Bearer eyJ\xed\xa0\x80.eyJ.x"):
        status, body = exchange(port, post("/v1/chat/completions", credential,
                                           b"Content-Length: %d" % len(BODY)), BODY)
        assert status == 401, body
        assert b"authentication_error" in body
    assert httpx.get(gateway.url + "/admin/status", headers=gateway.admin_headers()).status_code == 200


@pytest.mark.parametrize("host", [b"127.evil.example", b"127.0.0.1.nip.io", b"127.1.evil:8484",
                                  b"localhost.evil.example"])
def test_names_that_only_look_like_loopback_are_refused(make_gateway, host: bytes) -> None:
    """A page on 127.evil.example can rebind its DNS to 127.0.0.1; its Host header stays."""
    gateway = make_gateway(MOCK)
    head = b"GET /v1/models HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n"
    status, body = exchange(gateway.server.port, head)
    assert status == 403, body
    for address in (b"127.0.0.1:1", b"127.1.2.3", b"[::1]:80", b"localhost"):
        head = b"GET /v1/models HTTP/1.1\r\nHost: " + address + b"\r\nConnection: close\r\n"
        assert exchange(gateway.server.port, head)[0] == 200


def test_a_line_break_in_a_provider_name_is_a_404(make_gateway) -> None:
    """The name went into an HTTP reason phrase, where a line break is not allowed: it was a 500."""
    gateway = make_gateway(MOCK)
    headers = gateway.admin_headers()
    for response in (httpx.post(gateway.url + "/admin/providers/a%0Ab/disable", headers=headers),
                     httpx.post(gateway.url + "/admin/keys/test", json={"provider": "a\r\nb"},
                                headers=headers)):
        assert response.status_code == 404, response.text
        assert "no provider named 'a" in response.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/v1/models/a%0Ab", "/v1/chat/completions%0A", "/%0A", "/nope%0Ais%0Dhere"])
def test_a_line_break_in_a_path_is_answered_in_the_clients_shape(make_gateway, path: str) -> None:
    """A route's pattern (`.`) stops at a line break: such a path used to fall past every
    route, and aiohttp answered a plain-text 404 of its own."""
    gateway = make_gateway(MOCK)
    for method in ("GET", "POST"):
        response = httpx.request(method, gateway.url + path, json={})
        assert response.status_code in (404, 405), response.text
        assert set(response.json()["error"]) >= {"message", "type"}
