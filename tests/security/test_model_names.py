"""A model name is data: in every adapter it reaches the upstream as one quoted path segment
(or in the body), never leaves the configured base URL, and control characters are refused."""

from __future__ import annotations

import httpx
import pytest

from tests.support.fake_upstream import fail

EVIL = "../../admin/x?key=1#frag"
PROVIDERS = {
    # adapter: (config lines, where the upstream must receive the request)
    "openai": ("type: openai, base_url: '{url}/v1'", "/v1/chat/completions"),
    "anthropic": ("type: anthropic, base_url: '{url}'", "/v1/messages"),
    "cohere": ("type: cohere, base_url: '{url}'", "/v2/chat"),
    "azure": ("type: azure, base_url: '{url}', api_version: '2024-10-21'",
              "/openai/deployments/..%2F..%2Fadmin%2Fx%3Fkey=1%23frag/chat/completions"),
    "gemini": ("type: gemini, base_url: '{url}/v1beta'",
               "/v1beta/models/..%2F..%2Fadmin%2Fx%3Fkey=1%23frag:generateContent"),
    "vertex": ("type: gemini, base_url: '{url}', vertex: {{project: p, location: l, token_env: VT}}",
               "/v1/projects/p/locations/l/publishers/google/models/"
               "..%2F..%2Fadmin%2Fx%3Fkey=1%23frag:generateContent"),
}


def _gateway(make_gateway, upstream, monkeypatch, adapter: str):
    monkeypatch.setenv("UP_KEY", "a-test-key-of-some-length")
    monkeypatch.setenv("VT", "ya29.test-token")
    line = PROVIDERS[adapter][0].format(url=upstream.url)
    return make_gateway(f"""
providers:
  up: {{{line}, api_key: "env:UP_KEY", models: ["*"], retry: {{attempts: 0}},
        health_check: {{enabled: false}}}}
""")


def _chat(gateway, model: str, stream: bool = False) -> httpx.Response:
    return httpx.post(gateway.base_url + "/chat/completions", timeout=30, json={
        "model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})


@pytest.mark.parametrize("adapter", sorted(PROVIDERS))
def test_model_name_is_one_quoted_path_segment(make_gateway, upstream, monkeypatch, adapter) -> None:
    upstream.always(fail(400))
    gateway = _gateway(make_gateway, upstream, monkeypatch, adapter)
    _chat(gateway, f"up/{EVIL}")
    (sent,) = upstream.requests
    assert sent.raw_path == PROVIDERS[adapter][1]
    assert sent.query == ({"api-version": "2024-10-21"} if adapter == "azure" else {})
    if adapter in ("openai", "anthropic", "cohere"):
        assert sent.json["model"] == EVIL  # the body carries the name as it was given


@pytest.mark.parametrize("adapter", sorted(PROVIDERS))
@pytest.mark.parametrize("name", ["..", "."])
def test_a_dot_segment_name_is_refused(make_gateway, upstream, monkeypatch, adapter, name) -> None:
    """`..` as a path segment would climb out of the base URL once a client library normalises it."""
    upstream.always(fail(400))
    gateway = _gateway(make_gateway, upstream, monkeypatch, adapter)
    response = _chat(gateway, f"up/{name}")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model"
    assert upstream.requests == []


@pytest.mark.parametrize("adapter", sorted(PROVIDERS))
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("char", ["\n", "\r", "\x00", "\x1b", "\x7f", "\x85"])
def test_control_characters_are_refused_before_any_upstream_call(
        make_gateway, upstream, monkeypatch, adapter, stream, char) -> None:
    upstream.always(fail(500))
    gateway = _gateway(make_gateway, upstream, monkeypatch, adapter)
    response = _chat(gateway, f"up/gpt{char}x", stream)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "model" and "control character" in error["message"]
    assert upstream.requests == []


def test_anthropic_client_model_with_control_characters(make_gateway, upstream, monkeypatch) -> None:
    gateway = _gateway(make_gateway, upstream, monkeypatch, "anthropic")
    response = httpx.post(gateway.url + "/v1/messages", timeout=30, json={
        "model": "up/claude\r\nX-Injected: 1", "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 400
    assert response.json()["type"] == "error"
    assert upstream.requests == []
