"""Who may talk to the daemon: Host, Origin/CORS, the admin token, client keys, JWTs, limits."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import jwt
import openai
import pytest

from llmp.core.config_loader import ConfigError, parse_config
from llmp.daemon.context import RequestContext
from llmp.daemon.security.exposure import check_exposure
from llmp.daemon.security.failure_audit import FailureAudit
from llmp.daemon.security.policy import SECURITY
from tests.daemon.telemetry.upstream_data import COMPLETION
from tests.daemon.test_openai_sdk import openai_config
from tests.support.cli import run_llmp
from tests.support.fake_upstream import reply

MOCK = """
providers:
  mock:
    type: mock
    models: [mock-1, mock-2]
"""
CHAT = {"model": "mock-1", "messages": [{"role": "user", "content": "ping pong"}]}
TEAM_KEY = "llmp-team-key-0123456789abcdef"
JWT_SECRET = "a-long-shared-secret-for-hs256-tokens-0123456789"


class Recorder:
    def __init__(self) -> None:
        self.client_keys: list[str | None] = []

    def request_finished(self, ctx: RequestContext) -> None:
        self.client_keys.append(ctx.client_key)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def audit_events(home: Path) -> list[dict]:
    path = home / "logs" / "audit.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# -- Host (DNS rebinding) ----------------------------------------------------------


def test_host_must_be_loopback_or_configured(make_gateway) -> None:
    open_gw = make_gateway(MOCK)
    assert httpx.get(open_gw.url + "/v1/models", headers={"Host": "localhost:8484"}).status_code == 200
    refused = httpx.get(open_gw.url + "/v1/models", headers={"Host": "evil.example"})
    assert refused.status_code == 403
    assert refused.json()["error"]["type"] == "permission_error"

    named = make_gateway("server: {allowed_hosts: [llmp.lan]}\n" + MOCK)
    assert httpx.get(named.url + "/v1/models", headers={"Host": "LLMP.lan:8484"}).status_code == 200
    assert httpx.get(named.url + "/v1/models", headers={"Host": "other.lan"}).status_code == 403


def test_a_refused_host_is_answered_in_anthropics_shape_on_its_api(make_gateway) -> None:
    gateway = make_gateway(MOCK)
    refused = httpx.post(gateway.url + "/v1/messages", headers={"Host": "evil.example"},
                         json={"model": "mock-1", "max_tokens": 8,
                               "messages": [{"role": "user", "content": "hi"}]})
    assert refused.status_code == 403
    assert refused.json() == {"type": "error", "error": {
        "type": "permission_error", "message": "Host header not allowed"}}
    assert refused.headers["x-request-id"]


# -- Origin and CORS ---------------------------------------------------------------


def test_cross_origin_refused_unless_listed(make_gateway) -> None:
    gateway = make_gateway("server: {cors_origins: ['http://localhost:3000']}\n" + MOCK)
    evil = httpx.post(gateway.url + "/v1/chat/completions", json=CHAT,
                      headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    assert evil.json()["error"]["code"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in evil.headers
    evil_preflight = httpx.options(gateway.url + "/v1/chat/completions",
                                   headers={"Origin": "https://evil.example",
                                            "Access-Control-Request-Method": "POST"})
    assert evil_preflight.status_code == 403

    origin = {"Origin": "http://localhost:3000"}
    preflight = httpx.options(gateway.url + "/v1/chat/completions", headers={
        **origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert preflight.headers["access-control-allow-headers"] == "authorization, content-type"
    assert "POST" in preflight.headers["access-control-allow-methods"]

    allowed = httpx.post(gateway.url + "/v1/chat/completions", json=CHAT, headers=origin)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert allowed.headers["vary"] == "Origin"
    streamed = httpx.post(gateway.url + "/v1/chat/completions", json={**CHAT, "stream": True},
                          headers=origin)
    assert streamed.headers["access-control-allow-origin"] == "http://localhost:3000"

    admin = httpx.get(gateway.url + "/admin/status", headers={**origin, **gateway.admin_headers()})
    assert admin.status_code == 403  # admin endpoints are never for browsers


# -- the admin token ---------------------------------------------------------------


def test_admin_needs_the_token(make_gateway, isolated_env: Path) -> None:
    gateway = make_gateway(MOCK)
    assert httpx.get(gateway.url + "/admin/status").status_code == 401
    wrong = httpx.post(gateway.url + "/admin/keys/reload", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["type"] == "authentication_error"
    assert httpx.get(gateway.url + "/admin/status", headers=gateway.admin_headers()).status_code == 200
    reloaded = httpx.post(gateway.url + "/admin/keys/reload", headers=gateway.admin_headers(),
                          json={"name": "mock"})
    assert reloaded.json()["reloaded"] == ["mock"]
    failures = [e for e in audit_events(isolated_env) if e["event"] == "auth_failed"]
    assert [e["path"] for e in failures] == ["/admin/status", "/admin/keys/reload"]
    assert "nope" not in (isolated_env / "logs" / "audit.log").read_text()


def test_switching_a_provider_off_and_on_is_audited(make_gateway, isolated_env: Path) -> None:
    gateway = make_gateway(MOCK)
    for action in ("disable", "enable"):
        switched = httpx.post(f"{gateway.url}/admin/providers/mock/{action}", headers=gateway.admin_headers())
        assert switched.status_code == 200
    assert httpx.post(gateway.url + "/admin/providers/mock/disable").status_code == 401
    events = [(e["event"], e.get("provider")) for e in audit_events(isolated_env)]
    assert events == [("provider_disabled", "mock"), ("provider_enabled", "mock"), ("auth_failed", None)]


# -- client keys -------------------------------------------------------------------

CLIENT_KEYS = """
server:
  auth:
    keys:
      team:
        key: env:TEAM_KEY
        models: ["mock-1", "mock/*"]
        rpm: 2
      batch:
        tpm: 10
""" + MOCK


def test_client_keys_models_and_rpm(make_gateway, monkeypatch, isolated_env: Path) -> None:
    monkeypatch.setenv("TEAM_KEY", TEAM_KEY)
    gateway = make_gateway(CLIENT_KEYS)
    recorder = Recorder()
    gateway.runtime.observers.append(recorder)
    clock = Clock()
    gateway.server.app[SECURITY].limiter.clock = clock

    anonymous = httpx.post(gateway.base_url + "/chat/completions", json=CHAT)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(gateway.base_url + "/models").status_code == 401
    assert httpx.get(gateway.url + "/healthz").status_code == 200
    with pytest.raises(openai.AuthenticationError):
        gateway.openai(api_key="not-the-key").chat.completions.create(**CHAT)

    client = gateway.openai(api_key=TEAM_KEY)
    assert client.chat.completions.create(**CHAT).choices[0].message.content == "ping pong"
    by_header = httpx.post(gateway.base_url + "/chat/completions", json=CHAT,
                           headers={"x-api-key": TEAM_KEY})
    assert by_header.status_code == 200
    with pytest.raises(openai.PermissionDeniedError) as denied:
        client.chat.completions.create(**{**CHAT, "model": "mock-2"})
    assert denied.value.body["param"] == "model" and denied.value.body["code"] == "model_not_allowed"

    with pytest.raises(openai.RateLimitError) as limited:  # 2 admitted this minute already
        client.chat.completions.create(**CHAT)
    assert int(limited.value.response.headers["retry-after"]) == 60
    clock.now += 61
    assert client.chat.completions.create(**CHAT).choices
    assert recorder.client_keys == [None] * 3 + ["team"] * 5  # the three refused ones: no client
    failures = [e for e in audit_events(isolated_env) if e["event"] == "auth_failed"]
    assert len(failures) == 3 and TEAM_KEY not in json.dumps(failures)


def test_client_tokens_per_minute(make_gateway, monkeypatch) -> None:
    monkeypatch.setenv("LLMP_CLIENT_KEY_BATCH", "llmp-batch-key-000000000000001")
    gateway = make_gateway(CLIENT_KEYS)
    clock = Clock()
    gateway.server.app[SECURITY].limiter.clock = clock
    client = gateway.openai(api_key="llmp-batch-key-000000000000001")

    def ask() -> None:  # streamed with usage: 4 tokens each
        for _ in client.chat.completions.create(**CHAT, stream=True,
                                                stream_options={"include_usage": True}):
            pass

    for _ in range(3):  # 12 >= 10 after the third
        ask()
    with pytest.raises(openai.RateLimitError):
        ask()
    clock.now += 60.5
    ask()


# -- JWT ---------------------------------------------------------------------------

JWT_CONFIG = """
server:
  auth:
    jwt:
      secret: env:TEAM_JWT_SECRET
      audience: llmp-team
      models: ["mock-*"]
""" + MOCK


def token(**claims: object) -> str:
    payload = {"sub": "alice", "aud": "llmp-team", "exp": int(time.time()) + 300, **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, JWT_SECRET, algorithm="HS256")


@pytest.mark.parametrize(("claims", "secret", "reason"), [
    ({"exp": int(time.time()) - 60}, JWT_SECRET, "expired"),
    ({"aud": "someone-else"}, JWT_SECRET, "aud"),
    ({"exp": None}, JWT_SECRET, "'exp'"),
    ({"aud": None}, JWT_SECRET, "'aud'"),
    ({}, "another-secret-entirely-0123456789abcdef", "not valid"),
])
def test_jwt_rejections(make_gateway, monkeypatch, claims, secret, reason) -> None:
    monkeypatch.setenv("TEAM_JWT_SECRET", JWT_SECRET)
    gateway = make_gateway(JWT_CONFIG)
    payload = {"sub": "alice", "aud": "llmp-team", "exp": int(time.time()) + 300, **claims}
    bad = jwt.encode({k: v for k, v in payload.items() if v is not None}, secret, algorithm="HS256")
    response = httpx.post(gateway.base_url + "/chat/completions", json=CHAT,
                          headers={"Authorization": f"Bearer {bad}"})
    assert response.status_code == 401
    assert reason in response.json()["error"]["message"]


def test_jwt_accepted_and_alg_none_refused(make_gateway, monkeypatch) -> None:
    monkeypatch.setenv("TEAM_JWT_SECRET", JWT_SECRET)
    gateway = make_gateway(JWT_CONFIG)
    recorder = Recorder()
    gateway.runtime.observers.append(recorder)
    answer = gateway.openai(api_key=token()).chat.completions.create(**CHAT)
    assert answer.choices[0].message.content == "ping pong"
    assert recorder.client_keys == ["jwt:alice"]
    unsigned = jwt.encode({"sub": "mallory", "aud": "llmp-team", "exp": int(time.time()) + 300},
                          None, algorithm="none")
    response = httpx.post(gateway.base_url + "/chat/completions", json=CHAT,
                          headers={"Authorization": f"Bearer {unsigned}"})
    assert response.status_code == 401


# -- binding beyond loopback -------------------------------------------------------


def test_non_loopback_bind_needs_auth(isolated_env: Path) -> None:
    refused = run_llmp("start", "--host", "0.0.0.0", "--port", "0")
    assert refused.code == 1
    assert "refusing to listen on 0.0.0.0" in refused.err and "server.auth.keys" in refused.err
    assert not (isolated_env / "daemon.json").exists()
    with pytest.raises(ConfigError):
        check_exposure(parse_config("server: {host: 192.168.1.20}").server)
    check_exposure(parse_config("server: {host: '::1'}").server)
    check_exposure(parse_config("server: {host: 0.0.0.0, auth: {keys: {team: {}}}}").server)


# -- size and time limits ----------------------------------------------------------


def test_body_depth_and_header_limits(make_gateway) -> None:
    gateway = make_gateway("server: {limits: {max_body_bytes: 4096, max_json_depth: 8, "
                           "max_header_bytes: 2048}}\n" + MOCK)
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 8000}]}
    too_big = httpx.post(gateway.base_url + "/chat/completions", json=big)
    assert too_big.status_code == 413
    assert too_big.json()["error"]["message"] == "The request body is too large."

    nested: object = "deep"
    for _ in range(10):
        nested = {"a": nested}
    deep = httpx.post(gateway.base_url + "/chat/completions", json={**CHAT, "metadata": nested})
    assert deep.status_code == 400
    assert "nested deeper than 8" in deep.json()["error"]["message"]
    deep = httpx.post(gateway.base_url + "/messages", json={**CHAT, "max_tokens": 5, "metadata": nested})
    assert deep.status_code == 400
    assert "nested deeper than 8" in deep.json()["error"]["message"]
    shallow = {**CHAT, "metadata": {"a": {"b": 1}}, "tools": [{"type": "function"}]}
    assert httpx.post(gateway.base_url + "/chat/completions", json=shallow).status_code == 200

    long_header = httpx.get(gateway.base_url + "/models", headers={"x-padding": "p" * 4000})
    assert long_header.status_code in (400, 431)
    assert httpx.get(gateway.base_url + "/models").status_code == 200


def test_slow_body_times_out(make_gateway) -> None:
    gateway = make_gateway("server: {limits: {read_timeout: 0.3}}\n" + MOCK)
    with socket.create_connection(("127.0.0.1", gateway.server.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"model\":")
        answer = sock.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 408")
    assert "did not arrive in time" in answer
    assert httpx.post(gateway.base_url + "/chat/completions", json=CHAT).status_code == 200


def test_client_key_set_while_running_takes_effect(test_keyring, make_gateway) -> None:
    from llmp.core import keyring_store

    gateway = make_gateway("server: {auth: {keys: {team: {}}}}\n" + MOCK)
    with pytest.raises(openai.AuthenticationError):  # no key is stored yet
        gateway.openai(api_key=TEAM_KEY).chat.completions.create(**CHAT)
    keyring_store.put("client:team", TEAM_KEY)
    reload = httpx.post(gateway.url + "/admin/keys/reload", headers=gateway.admin_headers(),
                        json={"name": "client:team"})
    assert reload.status_code == 200
    assert gateway.openai(api_key=TEAM_KEY).chat.completions.create(**CHAT).choices
    keyring_store.delete("client:team")
    httpx.post(gateway.url + "/admin/keys/reload", headers=gateway.admin_headers())
    with pytest.raises(openai.AuthenticationError):
        gateway.openai(api_key=TEAM_KEY).chat.completions.create(**CHAT)


def test_refusals_use_the_anthropic_shape_on_its_path(make_gateway, monkeypatch) -> None:
    import anthropic

    monkeypatch.setenv("TEAM_KEY", TEAM_KEY)
    gateway = make_gateway(CLIENT_KEYS)
    client = anthropic.Anthropic(base_url=gateway.url, api_key="not-the-key", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as refused:
        client.messages.create(model="mock-1", max_tokens=10,
                               messages=[{"role": "user", "content": "hi"}])
    assert refused.value.body == {"type": "error", "error": {
        "type": "authentication_error", "message": "the client key is not valid"}}


def test_jwt_secret_from_the_keyring(test_keyring, make_gateway) -> None:
    from llmp.core import keyring_store

    keyring_store.put("jwt-secret", JWT_SECRET)
    gateway = make_gateway("server: {auth: {jwt: {audience: llmp-team}}}\n" + MOCK)
    assert gateway.openai(api_key=token()).chat.completions.create(**CHAT).choices


def test_slow_headers_are_cut_off(make_gateway) -> None:
    gateway = make_gateway("server: {limits: {read_timeout: 0.3}}\n" + MOCK)
    with socket.create_connection(("127.0.0.1", gateway.server.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        assert sock.recv(65536) == b""  # closed by the daemon, no answer
        assert time.monotonic() - started < 5


def test_auth_failure_audit_is_throttled(make_gateway, isolated_env: Path) -> None:
    gateway = make_gateway(MOCK)
    clock = Clock()
    gateway.server.app[SECURITY].failures = FailureAudit(limit=2, clock=clock)
    for _ in range(5):
        assert httpx.get(gateway.url + "/admin/status").status_code == 401
    clock.now += 61
    assert httpx.get(gateway.url + "/admin/providers").status_code == 401
    events = [(e["event"], e.get("path"), e.get("count")) for e in audit_events(isolated_env)]
    assert events == [("auth_failed", "/admin/status", None), ("auth_failed", "/admin/status", None),
                      ("auth_failed_suppressed", None, 3), ("auth_failed", "/admin/providers", None)]


def test_a_cookie_an_upstream_sets_is_not_sent_on_later_requests(make_gateway, make_upstream) -> None:
    """One upstream session serves every client: one client's cookie must not reach another's."""
    upstream = make_upstream().then(
        reply(COMPLETION, headers={"Set-Cookie": "session=client-one; Path=/"}), reply(COMPLETION))
    # A host name, not an IP address: a cookie jar ignores cookies from IP addresses.
    client = make_gateway(openai_config(upstream.url.replace("127.0.0.1", "localhost"))).openai()
    for _ in range(2):
        client.chat.completions.create(model="up/gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert [r.headers.get("Cookie") for r in upstream.requests] == [None, None]
