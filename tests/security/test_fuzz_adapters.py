"""Fuzzing every adapter's translation: arbitrary bodies through each provider type.

The mock provider answers whatever it gets, so it cannot show that a translation
(OpenAI -> Anthropic, Gemini, Cohere; Anthropic -> OpenAI, ...) copes with odd but
well-formed input. Here each wire format has a fake upstream that answers with its
provider's real (golden) reply, and hypothesis sends both inbound formats to every
provider: the daemon must answer with anything but its own 500.
"""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.golden import Golden

pytestmark = pytest.mark.timeout(300)

# (provider name, adapter type, golden folder, JSON reply, SSE transcript)
UPSTREAMS = [
    ("an", "anthropic", "anthropic", "response_text.json", "stream_text.sse"),
    ("ge", "gemini", "gemini", "text_response.json", "stream_text.sse"),
    ("co", "cohere", "cohere", "chat_response.json", "stream_text.sse"),
    ("az", "azure", "azure", "chat_response.json", "stream_text.sse"),
]


def golden_upstream(folder: str, answer: str, transcript: str):
    golden = Golden(folder)

    async def behaviour(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        streaming = "stream" in request.path.lower() or b'"stream": true' in body or b'"stream":true' in body
        if streaming:
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            for event in golden.sse_events(transcript):
                await response.write(event)
            await response.write_eof()
            return response
        if request.path.endswith("/count_tokens"):  # Anthropic's answer to a count: no message
            return web.json_response({"input_tokens": 7})
        if request.path.endswith("/embeddings"):  # OpenAI's (Azure's) embeddings list
            return web.json_response({"object": "list", "model": "m", "usage": {
                "prompt_tokens": 1, "total_tokens": 1}, "data": [
                {"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}]})
        return web.Response(body=golden.bytes(answer), content_type="application/json")

    return behaviour


@pytest.fixture
def gateway(make_gateway, make_upstream):
    lines = ["providers:"]
    for name, kind, folder, answer, transcript in UPSTREAMS:
        fake = make_upstream().always(golden_upstream(folder, answer, transcript))
        base = fake.url + ("/v1beta" if kind == "gemini" else "")
        lines.append(f"  {name}: {{type: {kind}, base_url: '{base}', api_key: test-key-{name}-0000,"
                     f" models: [m]}}")
    lines.append("defaults: {retry: {attempts: 0}}")
    return make_gateway("\n".join(lines) + "\n")


# Text a JSON encoder can write (no lone surrogates, which the daemon rightly refuses as a whole).
TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=5)
MODELS = st.sampled_from([f"{name}/m" for name, *_ in UPSTREAMS])
LEAVES = (st.none() | st.booleans() | st.integers(-3, 3) | TEXT
          | st.floats(allow_nan=False, allow_infinity=False))
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(TEXT, inner, max_size=3), max_leaves=10)


def some(keys: dict, required: dict | None = None) -> st.SearchStrategy[dict]:
    """An object with `required` and any subset of `keys`, each mostly a plausible value."""
    return st.fixed_dictionaries(required or {},
                                 optional={k: st.one_of(v, v, v, VALUES) for k, v in keys.items()})


OPENAI_PART = some(required={
    "type": st.sampled_from(["text", "image_url", "input_audio", "file", "refusal", "other"])}, keys={
    "text": TEXT,
    "image_url": some({"url": st.sampled_from(["data:image/png;base64,iVBORw0KGgo=",
                                               "https://example.com/a.png", "data:x", ""]),
                       "detail": st.sampled_from(["low", "high", "auto"])}),
    "input_audio": some({"data": TEXT, "format": st.sampled_from(["wav", "mp3"])}),
    "file": some({"file_data": TEXT, "filename": TEXT}),
})
TOOL_CALL = some({
    "id": TEXT, "type": st.just("function"),
    "function": some({"name": TEXT, "arguments": st.sampled_from(['{"a": 1}', "{", "[]", ""])}),
})
OPENAI_MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "developer", "user", "assistant", "tool", "function"]),
     "content": TEXT | st.none() | st.lists(OPENAI_PART, min_size=1, max_size=3)},
    optional={
        "tool_calls": st.lists(TOOL_CALL, max_size=2),
        "tool_call_id": TEXT,
        "name": TEXT,
        "reasoning_content": TEXT,
    },
)
OPENAI_TOOL = some({
    "type": st.sampled_from(["function", "web_search", "other"]),
    "function": some({"name": TEXT, "description": TEXT,
                      "parameters": st.just({"type": "object", "properties": {}}) | VALUES,
                      "strict": st.booleans()}),
})
OPENAI_BODY = st.fixed_dictionaries(
    {"model": MODELS, "messages": st.lists(OPENAI_MESSAGE, min_size=1, max_size=4)},
    optional={
        "stream": st.booleans(),
        "max_tokens": st.integers(1, 100), "max_completion_tokens": st.integers(1, 100),
        "temperature": st.floats(0, 2), "top_p": st.floats(0, 1),
        "stop": TEXT | st.lists(TEXT, max_size=3),
        "tools": st.lists(OPENAI_TOOL, max_size=2),
        "tool_choice": st.sampled_from(["auto", "none", "required"]) | some({
            "type": st.just("function"), "function": some({"name": TEXT})}),
        "response_format": some({"type": st.sampled_from(["text", "json_object", "json_schema"]),
                                 "json_schema": some({"name": TEXT, "schema": VALUES})}),
        "reasoning_effort": st.sampled_from(["low", "medium", "high", "none"]) | VALUES,
        "stream_options": some({"include_usage": st.booleans()}),
        "seed": st.integers(0, 10), "user": TEXT, "parallel_tool_calls": st.booleans(),
        "logprobs": st.booleans(), "top_logprobs": st.integers(0, 5), "n": st.integers(1, 2),
        "presence_penalty": st.floats(-2, 2), "frequency_penalty": st.floats(-2, 2),
        "metadata": st.dictionaries(TEXT, TEXT, max_size=2),
    },
)
ANTHROPIC_BLOCK = some(required={
    "type": st.sampled_from(["text", "image", "document", "tool_use", "tool_result", "thinking",
                             "redacted_thinking", "other"])}, keys={
    "text": TEXT,
    "source": some({"type": st.sampled_from(["base64", "url", "text"]),
                    "media_type": st.sampled_from(["image/png", "application/pdf", "text/plain"]),
                    "data": TEXT, "url": TEXT}),
    "id": TEXT, "name": TEXT, "input": VALUES,
    "tool_use_id": TEXT, "content": TEXT | VALUES,
    "is_error": st.booleans(), "thinking": TEXT, "signature": TEXT,
    "data": TEXT, "cache_control": some({"type": st.just("ephemeral")}),
})
ANTHROPIC_MESSAGE = st.fixed_dictionaries({
    "role": st.sampled_from(["user", "assistant"]),
    "content": TEXT | st.lists(ANTHROPIC_BLOCK, min_size=1, max_size=3),
})
ANTHROPIC_BODY = st.fixed_dictionaries(
    {"model": MODELS, "max_tokens": st.integers(1, 100),
     "messages": st.lists(ANTHROPIC_MESSAGE, min_size=1, max_size=4)},
    optional={
        "stream": st.booleans(),
        "system": TEXT | st.lists(ANTHROPIC_BLOCK, max_size=2),
        "temperature": st.floats(0, 1), "top_p": st.floats(0, 1), "top_k": st.integers(1, 5),
        "stop_sequences": st.lists(TEXT, max_size=2),
        "tools": st.lists(some({"name": TEXT, "description": TEXT,
                                "input_schema": st.just({"type": "object"}) | VALUES,
                                "type": st.sampled_from(["custom", "web_search_20250305"])}),
                          max_size=2),
        "tool_choice": some({"type": st.sampled_from(["auto", "any", "tool", "none"]),
                             "name": TEXT,
                             "disable_parallel_tool_use": st.booleans()}),
        "thinking": some({"type": st.sampled_from(["enabled", "disabled"]),
                          "budget_tokens": st.integers(0, 2000)}),
        "metadata": some({"user_id": TEXT}),
    },
)

EMBEDDING_BODY = st.fixed_dictionaries(
    {"model": MODELS, "input": TEXT | VALUES | st.lists(
        TEXT | st.integers() | st.lists(st.integers(), max_size=3) | VALUES, min_size=1, max_size=3)},
    optional={"dimensions": st.integers(1, 5), "user": TEXT,
              "encoding_format": st.sampled_from(["float", "base64"]) | VALUES, "input_type": TEXT},
)
COMPLETION_BODY = st.fixed_dictionaries(
    {"model": MODELS, "prompt": TEXT | st.lists(TEXT | st.integers() | VALUES, max_size=3)},
    optional={"stream": st.booleans(), "max_tokens": st.integers(1, 10), "n": st.integers(1, 3),
              "stop": TEXT | VALUES, "suffix": TEXT | VALUES, "echo": st.booleans() | VALUES,
              "logprobs": st.integers(0, 5) | VALUES, "top_p": st.floats(0, 1) | VALUES},
)


def drive(gateway, path: str, bodies: st.SearchStrategy[dict], examples: int,
          expect: frozenset[int] = frozenset({200, 400})) -> None:
    """No 500 for any example; among the statuses answered, at least those in `expect`."""
    answered: set[int] = set()
    with httpx.Client(base_url=gateway.url, timeout=20) as client:

        @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
        @given(body=bodies)
        def check(body: dict) -> None:
            response = client.post(path, json=body)
            answered.add(response.status_code)
            assert response.status_code != 500, f"{json.dumps(body)}\n-> {response.text}"
            assert response.status_code < 502 or "upstream" in response.text.lower(), response.text

        check()
    # The examples reached both sides: requests answered and requests refused.
    assert expect <= answered, answered


def test_openai_bodies_through_every_adapter(gateway) -> None:
    drive(gateway, "/v1/chat/completions", OPENAI_BODY, 200)


def test_anthropic_bodies_through_every_adapter(gateway) -> None:
    drive(gateway, "/v1/messages", ANTHROPIC_BODY, 200)


def test_count_tokens_completions_and_embeddings_through_every_adapter(gateway) -> None:
    drive(gateway, "/v1/messages/count_tokens", ANTHROPIC_BODY, 60, frozenset({400}))
    drive(gateway, "/v1/completions", COMPLETION_BODY, 100)
    drive(gateway, "/v1/embeddings", EMBEDDING_BODY, 100, frozenset({400}))



@pytest.mark.parametrize(("path", "body", "param"), [
    ("/v1/chat/completions", {"model": "co/m", "messages": [
        {"role": "assistant", "tool_calls": [{"function": [None]}]}]}, "messages[0].tool_calls[0]"),
    ("/v1/chat/completions", {"model": "co/m", "messages": [{"role": "user", "content": "x"}],
                              "tools": [{"type": "function", "function": ["name"]}]}, "tools[0].function"),
    ("/v1/chat/completions", {"model": "co/m", "messages": [
        {"role": "user", "content": [{"type": "image_url", "image_url": [1]}]}]}, "messages[0].content"),
    ("/v1/messages", {"model": "ge/m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
                      "tool_choice": {"type": []}}, "tool_choice"),
    ("/v1/chat/completions", {"model": "an/m", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "x"}, {"type": "image_url", "text": 1.5,
                                                                    "image_url": {"url": "x"}}]}]},
     "messages[0].content[1]"),
])
def test_what_the_fuzzing_found(gateway, path: str, body: dict, param: str) -> None:
    """Each of these once made the daemon answer 500: a malformed shape a translation trusted."""
    response = httpx.post(gateway.url + path, json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert param in (error.get("param") or error["message"])


def test_odd_fields_of_a_part_do_not_stop_its_request_being_counted(gateway, caplog) -> None:
    """A non-text part may carry any `text`; estimating the request's tokens must not trip on it."""
    body = {"model": "az/m", "stream": True, "messages": [{"role": "user", "content": [
        {"type": "image_url", "text": 1.5, "image_url": {"url": "https://example.com/a.png"}}]}]}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body)
    assert response.status_code == 200 and response.text.endswith("data: [DONE]\n\n")
    gateway.wait_idle()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    metrics = httpx.get(gateway.url + "/metrics").text
    assert 'provider="az"' in metrics and "token" in metrics
