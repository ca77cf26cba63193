"""Upstream answers are checked for what they claim and bounded in size and in silence:
a stream must be SSE, an answer must be its format's object, nothing grows without bound."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from aiohttp import web

from tests.support.fake_upstream import reply, sse_json, stream

CHUNK = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m1",
         "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]}
LIMITS = "server: {limits: {max_response_bytes: 4096, max_event_bytes: 2048}}"


def _config(url: str, kind: str = "openai", extra: str = "", timeout: str = "") -> str:
    base = f"{url}/v1" if kind == "openai" else url
    return f"""
{extra}
providers:
  up: {{type: {kind}, base_url: "{base}", api_key: none, models: ["*"], retry: {{attempts: 0}},
        health_check: {{enabled: false}} {timeout}}}
"""


def _openai(gateway, stream_: bool = False, timeout: float = 30) -> httpx.Response:
    return httpx.post(gateway.base_url + "/chat/completions", timeout=timeout, json={
        "model": "up/m1", "stream": stream_, "messages": [{"role": "user", "content": "hi"}]})


def _anthropic(gateway, stream_: bool = False) -> httpx.Response:
    return httpx.post(gateway.url + "/v1/messages", timeout=30, json={
        "model": "up/claude", "max_tokens": 5, "stream": stream_,
        "messages": [{"role": "user", "content": "hi"}]})


@pytest.mark.parametrize("body", ["{}", "{garbage}", '{"error": null}', '{"object": "list"}'])
def test_a_success_that_is_no_chat_completion_is_a_502(make_gateway, upstream, body) -> None:
    upstream.always(reply(body))
    response = _openai(make_gateway(_config(upstream.url)))
    assert response.status_code == 502
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_an_anthropic_success_without_content_is_a_502(make_gateway, upstream) -> None:
    upstream.always(reply({"type": "message"}))
    response = _anthropic(make_gateway(_config(upstream.url, "anthropic")))
    assert response.status_code == 502
    assert response.json()["type"] == "error"


@pytest.mark.parametrize("kind", ["anthropic", "gemini", "cohere"])
def test_an_empty_object_from_any_adapter_is_a_502(make_gateway, upstream, kind) -> None:
    """Every adapter's non-streamed answer must be its format's object, not merely JSON."""
    upstream.always(reply("{}"))
    response = _openai(make_gateway(_config(upstream.url, kind)))
    assert response.status_code == 502, response.text
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize("content_type", ["application/json", "text/html"])
@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini", "cohere"])
def test_a_stream_answered_without_sse_is_a_502_in_the_clients_shape(
        make_gateway, upstream, kind, content_type) -> None:
    upstream.always(reply("<html>login</html>" if "html" in content_type else {"choices": []},
                          headers={"Content-Type": content_type}))
    gateway = make_gateway(_config(upstream.url, kind))
    openai = _openai(gateway, True)
    assert openai.status_code == 502, openai.text
    assert "not an event stream" in openai.json()["error"]["message"]
    if kind == "anthropic":
        anthropic = _anthropic(gateway, True)
        assert anthropic.status_code == 502
        assert anthropic.json()["type"] == "error"


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini", "cohere"])
def test_an_oversized_answer_is_refused(make_gateway, upstream, kind) -> None:
    big = {"id": "x", "object": "chat.completion", "choices": [], "pad": "x" * 10_000}
    upstream.always(reply(big))
    response = _openai(make_gateway(_config(upstream.url, kind, extra=LIMITS)))
    assert response.status_code == 502
    assert "max_response_bytes" in response.json()["error"]["message"]


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini", "cohere"])
def test_an_endless_answer_without_length_is_cut_at_the_bound(make_gateway, upstream, kind) -> None:
    upstream.always(stream([b'{"choices": ['] + [b'"x",' * 100] * 10_000,
                           content_type="application/json"))
    response = _openai(make_gateway(_config(upstream.url, kind, extra=LIMITS)))
    assert response.status_code == 502
    assert "max_response_bytes" in response.json()["error"]["message"]


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini", "cohere"])
def test_an_event_without_end_is_cut_at_the_bound(make_gateway, upstream, kind) -> None:
    """An event no blank line ever ends (as lines, or as one endless line) ends the stream."""
    upstream.always(stream([b"data: {\"a\": \"" + b"x" * 100 for _ in range(500)]))
    gateway = make_gateway(_config(upstream.url, kind, extra=LIMITS))
    with httpx.stream("POST", gateway.base_url + "/chat/completions", timeout=30, json={
            "model": "up/m1", "stream": True, "messages": [{"role": "user", "content": "hi"}]}) as r:
        text = r.read().decode()
    assert "max_event_bytes" in text or "max_response_bytes" in text, text[-500:]


#: A first event that carries text, in each upstream's own stream format.
FIRST_EVENTS = {
    "openai": sse_json([CHUNK], done=False)[0],
    "anthropic": b'event: message_start\ndata: {"type":"message_start","message":{"id":"m",'
                 b'"type":"message","role":"assistant","model":"m1","content":[],'
                 b'"usage":{"input_tokens":1,"output_tokens":0}}}\n\n'
                 b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
                 b'"content_block":{"type":"text","text":""}}\n\n'
                 b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
                 b'"delta":{"type":"text_delta","text":"hi"}}\n\n',
    "gemini": b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]},'
              b'"index":0}]}\n\n',
}


def _stalls_after_first_chunk(kind: str = "openai") -> object:
    async def behaviour(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(FIRST_EVENTS[kind])
        await asyncio.sleep(60)  # silent: only the idle timeout can end this
        return response

    return behaviour


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
def test_a_stream_silent_longer_than_idle_ends_with_an_error_event(
        make_gateway, upstream, kind) -> None:
    """Relayed as it is (OpenAI) or translated (Anthropic, Gemini): the silence ends the stream."""
    upstream.always(_stalls_after_first_chunk(kind))
    gateway = make_gateway(_config(upstream.url, kind,
                                   timeout=", timeout: {first_token: 5, idle: 0.3}"))
    response = _openai(gateway, True, timeout=10)
    assert response.status_code == 200
    events = [json.loads(line[6:]) for line in response.text.splitlines()
              if line.startswith("data: {")]
    assert "hi" in [choice["delta"].get("content") for event in events[:-1]
                    for choice in event["choices"]]
    assert events[-1]["error"]["code"] == "idle_timeout"


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_a_slow_stream_that_never_falls_silent_for_idle_runs_to_its_end(
        make_gateway, upstream, kind) -> None:
    """Silence is measured between reads, not over the stream: one lasting many times `idle`
    with events closer together than it is relayed whole."""
    first = FIRST_EVENTS[kind]
    rest = ([sse_json([CHUNK])[0]] * 12 + [b"data: [DONE]\n\n"] if kind == "openai" else
            [b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
                b'"delta":{"type":"text_delta","text":"hi"}}\n\n'] * 12 + [
                b'event: message_delta\ndata: {"type":"message_delta","delta":'
                b'{"stop_reason":"end_turn"},"usage":{"output_tokens":13}}\n\n',
                b'event: message_stop\ndata: {"type":"message_stop"}\n\n'])
    upstream.always(stream([first, *rest], delay=0.1))
    gateway = make_gateway(_config(upstream.url, kind, timeout=", timeout: {first_token: 5, idle: 0.3}"))
    response = _openai(gateway, True, timeout=10)
    assert response.status_code == 200
    events = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: {")]
    assert not any("error" in event for event in events), events[-1]
    assert [choice["delta"].get("content") for event in events for choice in event["choices"]
            ].count("hi") == 13
    assert response.text.endswith("data: [DONE]\n\n")
