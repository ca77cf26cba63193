"""`GET /admin/probe/{provider}`: what `llmp test` learns before choosing a model."""

from __future__ import annotations

import httpx

from tests.support.fake_upstream import FakeUpstream, fail
from tests.support.openai_server import openai_server


def config(url: str) -> str:
    return f"""
providers:
  up:
    type: openai
    base_url: {url}/v1
    api_key: env:PROBE_TEST_KEY
  mock:
    type: mock
    models: [mock-1]
"""


def test_probe_reports_key_operations_and_upstream_models(make_gateway, upstream: FakeUpstream,
                                                          monkeypatch) -> None:
    monkeypatch.setenv("PROBE_TEST_KEY", "sk-probe-secret-value-1234")
    upstream.always(openai_server(models=("gpt-a", "gpt-b")))
    gateway = make_gateway(config(upstream.url))
    answer = httpx.get(gateway.url + "/admin/probe/up", headers=gateway.admin_headers())
    assert answer.status_code == 200
    data = answer.json()
    assert data["key"] == {"present": True, "source": "environment", "state": "env PROBE_TEST_KEY",
                           "variable": "PROBE_TEST_KEY", "missing": False}
    assert data["operations"] == ["chat", "completions", "embeddings"]
    assert data["models"] == ["*"]
    assert data["upstream"]["ok"] is True and data["upstream"]["models"] == ["gpt-a", "gpt-b"]
    assert upstream.requests[0].headers["Authorization"] == "Bearer sk-probe-secret-value-1234"
    assert "sk-probe-secret-value-1234" not in answer.text


def test_probe_names_an_upstream_refusal(make_gateway, upstream: FakeUpstream,
                                         monkeypatch) -> None:
    monkeypatch.setenv("PROBE_TEST_KEY", "sk-probe-refused-value-1234")
    upstream.always(fail(401))
    gateway = make_gateway(config(upstream.url))
    data = httpx.get(gateway.url + "/admin/probe/up", headers=gateway.admin_headers()).json()
    assert data["upstream"] == {**data["upstream"], "ok": False, "kind": "auth", "status": 401,
                                "message": "fake upstream failure 401"}


def test_probe_without_a_key_asks_no_upstream(make_gateway, upstream: FakeUpstream) -> None:
    gateway = make_gateway(config(upstream.url))
    data = httpx.get(gateway.url + "/admin/probe/up", headers=gateway.admin_headers()).json()
    assert data["key"] == {"present": False, "source": "missing", "state": "missing",
                           "variable": "PROBE_TEST_KEY", "missing": True}
    assert data["upstream"] == {**data["upstream"], "ok": False, "kind": "auth", "status": 401,
                                "message": "no API key for provider 'up': set PROBE_TEST_KEY or "
                                           "run `llmp keys set up`"}
    assert upstream.requests == []


def test_probe_needs_the_admin_token_and_a_known_provider(make_gateway, upstream) -> None:
    gateway = make_gateway(config(upstream.url))
    assert httpx.get(gateway.url + "/admin/probe/mock").status_code == 401
    unknown = httpx.get(gateway.url + "/admin/probe/nope", headers=gateway.admin_headers())
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "unknown provider 'nope' (configured: up, mock)"
    assert upstream.requests == []
