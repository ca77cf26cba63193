"""A provider that needs a key and has none fails at once, says how to fix it, and calls nobody."""

from __future__ import annotations

from collections.abc import Callable

import anthropic
import openai
import pytest

from tests.support.fake_upstream import FakeUpstream, reply
from tests.support.gateway import Gateway

CONFIG = """
providers:
  openai:
    base_url: {url}/v1
    models: [gpt-4o-mini]
  anthropic:
    base_url: {url}
    models: [claude-3-5-haiku-latest]
  mock:
    type: mock
    models: [mock-1]
models:
  either:
    targets: [openai/gpt-4o-mini, mock/mock-1]
"""


@pytest.fixture
def gateway(make_gateway: Callable[[str], Gateway], upstream: FakeUpstream) -> Gateway:
    upstream.always(reply({"error": {"message": "must not be called"}}, status=500))
    return make_gateway(CONFIG.format(url=upstream.url))


def test_openai_client_hears_which_variable_and_command(gateway: Gateway, upstream: FakeUpstream) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        gateway.openai().chat.completions.create(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["code"] == "missing_api_key"
    assert "OPENAI_API_KEY" in error["message"]
    assert "llmp keys set openai" in error["message"]
    assert upstream.requests == []


def test_stream_fails_before_any_byte(gateway: Gateway, upstream: FakeUpstream) -> None:
    with pytest.raises(openai.AuthenticationError, match="ANTHROPIC_API_KEY"):
        gateway.openai().chat.completions.create(
            model="anthropic/claude-3-5-haiku-latest", stream=True,
            messages=[{"role": "user", "content": "hi"}])
    assert upstream.requests == []


def test_anthropic_client_gets_its_own_error_shape(gateway: Gateway, upstream: FakeUpstream) -> None:
    with pytest.raises(anthropic.AuthenticationError) as caught:
        gateway.anthropic().messages.create(
            model="anthropic/claude-3-5-haiku-latest", max_tokens=5,
            messages=[{"role": "user", "content": "hi"}])
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "authentication_error"
    assert "llmp keys set anthropic" in body["error"]["message"]
    assert upstream.requests == []


def test_an_alias_falls_over_to_a_provider_that_needs_no_key(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    answer = gateway.openai().chat.completions.create(
        model="either", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content
    assert upstream.requests == []


def test_a_key_set_later_is_used(
    gateway: Gateway, upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-now-present-1234")
    reloaded = httpx.post(gateway.url + "/admin/keys/reload", json={"name": "openai"},
                          headers=gateway.admin_headers())
    assert reloaded.status_code == 200
    with pytest.raises(openai.InternalServerError):
        gateway.openai().chat.completions.create(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert upstream.requests, "with a key, the upstream is called"
    assert upstream.requests[0].headers["Authorization"] == "Bearer sk-test-now-present-1234"
