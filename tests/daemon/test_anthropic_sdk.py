"""The official `anthropic` SDK against the gateway's `/v1/messages`, whatever provider serves it."""

from __future__ import annotations

import json

import anthropic
import httpx
import pytest

from tests.daemon.anthropic_fixtures import config, events, load, transcript
from tests.daemon.test_openai_sdk import openai_config
from tests.support.fake_upstream import FakeUpstream, fail, reply, sse_json, stream

MODEL = "claude/claude-sonnet-4-5-20250929"
TOOL = {"name": "get_weather", "description": "Current weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}

MOCK_ONLY = """
providers:
  mock:
    type: mock
    models: [mock-1]
"""


# -- Anthropic provider: pass-through ------------------------------------------------


def test_pass_through_is_untouched_except_model(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(load("response_thinking_tool_use.json")))
    gateway = make_gateway(config(upstream.url))
    body = {**load("request_multiturn.json"), "model": MODEL, "top_k": 5,
            "thinking": {"type": "enabled", "budget_tokens": 2000},
            "container": "container_011CU", "unknown_future_field": {"x": 1}}
    response = httpx.post(gateway.url + "/v1/messages", json=body)
    assert response.status_code == 200
    assert response.json() == load("response_thinking_tool_use.json")
    assert upstream.requests[-1].json == {**body, "model": "claude-sonnet-4-5-20250929"}
    assert response.headers["x-llmp-provider"] == "claude"


def test_sdk_reads_a_relayed_thinking_stream(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(events("stream_thinking_tool_use.sse")))
    client = make_gateway(config(upstream.url)).anthropic()
    with client.messages.stream(model=MODEL, max_tokens=4000, tools=[TOOL],
                                thinking={"type": "enabled", "budget_tokens": 2000},
                                messages=[{"role": "user", "content": "Paris?"}]) as events_seen:
        message = events_seen.get_final_message()
    thinking, redacted, tool_use = message.content
    assert redacted.data == load("response_thinking_tool_use.json")["content"][1]["data"]
    assert thinking.signature == load("response_thinking_tool_use.json")["content"][0]["signature"]
    assert tool_use.input == {"city": "Paris"} and message.stop_reason == "tool_use"


def test_relayed_stream_bytes_are_the_upstreams(make_gateway, upstream: FakeUpstream) -> None:
    raw = transcript("stream_tool_use.sse")
    upstream.always(stream([raw[i:i + 50] for i in range(0, len(raw), 50)]))  # split anywhere
    gateway = make_gateway(config(upstream.url))
    with httpx.stream("POST", gateway.url + "/v1/messages", json={
        "model": MODEL, "max_tokens": 100, "stream": True,
        "messages": [{"role": "user", "content": "x"}]}) as response:
        received = response.read()
    assert received == raw


def test_error_event_in_relayed_stream_is_sent_once(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(events("stream_error_midway.sse")))
    gateway = make_gateway(config(upstream.url))
    with httpx.stream("POST", gateway.url + "/v1/messages", json={
        "model": MODEL, "max_tokens": 100, "stream": True,
        "messages": [{"role": "user", "content": "x"}]}) as response:
        received = response.read()
    raw = transcript("stream_error_midway.sse")
    assert received.startswith(raw[: raw.index(b"event: error")])
    assert received.count(b"event: error") == 1
    client = gateway.anthropic()
    with pytest.raises(anthropic.APIStatusError) as caught, client.messages.stream(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "x"}]
    ) as events_seen:
        for _ in events_seen:
            pass
    assert caught.value.body["error"] == {"type": "overloaded_error", "message": "Overloaded"}


def with_backup(first: str, second: str, *, retries: int) -> str:
    """Two Anthropic providers behind the alias `sonnet`, the second one `backup`."""
    return config(first, f"""  backup:
    type: anthropic
    base_url: {second}
    api_key: sk-ant-backup
    models: [claude-sonnet-4-5-20250929]
models:
  sonnet: [claude/claude-sonnet-4-5-20250929, backup/claude-sonnet-4-5-20250929]
defaults:
  retry: {{attempts: {retries}}}
""")


def test_error_event_before_any_content_fails_over(make_gateway, make_upstream) -> None:
    first, second = make_upstream(), make_upstream()
    overloaded = load("errors.json")["overloaded"]["body"]
    first.always(stream([b"event: error\ndata: " + json.dumps(overloaded).encode() + b"\n\n"]))
    second.always(stream(events("stream_text.sse")))
    # retries: none, straight to the next target (retries are tested in test_failover)
    gateway = make_gateway(with_backup(first.url, second.url, retries=0))
    with gateway.anthropic().messages.stream(
        model="sonnet", max_tokens=100, messages=[{"role": "user", "content": "x"}]
    ) as events_seen:
        assert events_seen.get_final_text() == "Hello! How can I help you today?"
    assert first.count("/v1/messages") == 1 and second.count("/v1/messages") == 1


def test_spent_credit_fails_over_without_retrying(make_gateway, make_upstream) -> None:
    """Anthropic says so with a 400; the request is fine, so another provider may serve it."""
    first, second = make_upstream(), make_upstream()
    first.always(fail(400, {"type": "error", "error": {
        "type": "invalid_request_error",
        "message": "Your credit balance is too low to access the Anthropic API. Please go to "
                   "Plans & Billing to upgrade or purchase credits."}}))
    second.always(reply(load("response_text.json")))
    gateway = make_gateway(with_backup(first.url, second.url, retries=2))
    answer = gateway.anthropic().messages.with_raw_response.create(
        model="sonnet", max_tokens=100, messages=[{"role": "user", "content": "x"}])
    assert answer.headers["x-llmp-provider"] == "backup"
    assert answer.parse().content[0].text == "Hello! How can I help you today?"
    assert first.count("/v1/messages") == 1 and second.count("/v1/messages") == 1


def test_relayed_stream_cut_mid_way_ends_with_error_event(make_gateway, upstream: FakeUpstream) -> None:
    # Paced, so what was sent before the cut is read before the cut (a reset discards unread data).
    upstream.always(stream(events("stream_text.sse"), drop_after=5, delay=0.05))
    gateway = make_gateway(config(upstream.url))
    with httpx.stream("POST", gateway.url + "/v1/messages", json={
        "model": MODEL, "max_tokens": 100, "stream": True,
        "messages": [{"role": "user", "content": "x"}]}) as response:
        received = response.read()
    assert response.status_code == 200
    assert b'"text":"Hello"' in received
    assert b"message_stop" not in received
    last = received.strip().split(b"\n\n")[-1]
    assert last.startswith(b"event: error\ndata: ")
    assert json.loads(last.split(b"data: ", 1)[1])["type"] == "error"


@pytest.mark.parametrize("name", ["overloaded", "rate_limit", "authentication", "prompt_too_long"])
def test_pass_through_errors_keep_status_and_body(make_gateway, upstream: FakeUpstream, name: str) -> None:
    fixture = load("errors.json")[name]
    upstream.always(fail(fixture["status"], fixture["body"], fixture.get("headers")))
    client = make_gateway(config(upstream.url)).anthropic()
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == fixture["status"]
    assert caught.value.body["type"] == "error"
    assert caught.value.body["error"] == fixture["body"]["error"]


def test_client_betas_reach_the_provider(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(load("response_text.json")))
    gateway = make_gateway(config(upstream.url).replace(
        "    models:", "    headers: {anthropic-beta: context-1m-2025-08-07}\n    models:"))
    client = gateway.anthropic()
    # The SDK's beta surface (as Claude Code uses) posts to /v1/messages?beta=true with the header.
    client.beta.messages.create(model=MODEL, max_tokens=10, betas=["interleaved-thinking-2025-05-14"],
                                messages=[{"role": "user", "content": "x"}])
    assert upstream.requests[-1].headers["anthropic-beta"] == (
        "context-1m-2025-08-07,interleaved-thinking-2025-05-14")
    gateway.openai().chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    assert upstream.requests[-1].headers["anthropic-beta"] == "context-1m-2025-08-07"


def test_count_tokens_passes_through(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply({"input_tokens": 14}))
    client = make_gateway(config(upstream.url)).anthropic()
    counted = client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert counted.input_tokens == 14
    assert upstream.requests[-1].path == "/v1/messages/count_tokens"
    assert upstream.requests[-1].json["model"] == "claude-sonnet-4-5-20250929"


# -- other providers: through the canonical form ---------------------------------------


def test_mock_provider_answers_the_anthropic_sdk(make_gateway) -> None:
    client = make_gateway(MOCK_ONLY).anthropic()
    message = client.messages.create(model="mock-1", max_tokens=50, system="Be terse.",
                                     messages=[{"role": "user", "content": "ping pong"}])
    assert message.content[0].text == "ping pong"
    assert message.stop_reason == "end_turn" and message.usage.output_tokens == 2
    with client.messages.stream(model="mock-1", max_tokens=50,
                                messages=[{"role": "user", "content": "one two three"}]) as seen:
        assert "".join(seen.text_stream) == "one two three"
        final = seen.get_final_message()
    assert final.usage.output_tokens == 3 and final.usage.input_tokens == 3


def test_mock_tool_call_streams_as_tool_use(make_gateway) -> None:
    client = make_gateway(MOCK_ONLY).anthropic()
    with client.messages.stream(
        model="mock-1", max_tokens=50, tools=[TOOL], messages=[{"role": "user", "content": "x"}],
        extra_body={"mock": {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Rome"}}]}},
    ) as seen:
        kinds = [event.type for event in seen]
        message = seen.get_final_message()
    assert kinds.count("input_json") >= 1
    [tool_use] = message.content
    assert tool_use.type == "tool_use" and tool_use.name == "get_weather"
    assert tool_use.input == {"city": "Rome"} and message.stop_reason == "tool_use"


def test_openai_upstream_gets_a_translated_request(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply({
        "id": "chatcmpl-9", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": None, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]}}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 9, "total_tokens": 39,
                  "prompt_tokens_details": {"cached_tokens": 10}}}))
    client = make_gateway(openai_config(upstream.url)).anthropic()
    request = load("request_multiturn.json")
    sampling = {name: request.pop(name) for name in ("temperature", "top_p")}  # not in this SDK's signature
    message = client.messages.create(**{**request, "model": "up/gpt-4o-mini"}, extra_body=sampling)
    expected = {**load("openai_request_multiturn.json"), "model": "gpt-4o-mini", "stream": False}
    assert upstream.requests[-1].json == expected
    assert upstream.requests[-1].headers["Authorization"] == "Bearer sk-test-upstream-key-123456"
    [tool_use] = message.content
    assert (tool_use.id, tool_use.name, tool_use.input) == ("call_1", "get_weather", {"city": "Oslo"})
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens) == (20, 10)


def test_openai_upstream_stream_becomes_anthropic_events(make_gateway, upstream: FakeUpstream) -> None:
    def chunk(delta: dict, finish: str | None = None) -> dict:
        return {"id": "chatcmpl-7", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    head = {"index": 0, "id": "call_9", "type": "function",
            "function": {"name": "get_weather", "arguments": ""}}
    upstream.always(stream(sse_json([
        chunk({"role": "assistant", "content": ""}), chunk({"content": "Checking"}),
        chunk({"content": " now."}), chunk({"tool_calls": [head]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": " \"Oslo\"}"}}]}),
        chunk({}, "tool_calls"),
        {"id": "chatcmpl-7", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
         "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}},
    ])))
    client = make_gateway(openai_config(upstream.url)).anthropic()
    with client.messages.stream(model="up/gpt-4o-mini", max_tokens=100, tools=[TOOL],
                                messages=[{"role": "user", "content": "Oslo?"}]) as seen:
        message = seen.get_final_message()
    text, tool_use = message.content
    assert text.text == "Checking now."
    assert (tool_use.id, tool_use.input) == ("call_9", {"city": "Oslo"})
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (11, 7)
    assert upstream.requests[-1].json["stream_options"] == {"include_usage": True}


def test_openai_upstream_error_reaches_the_sdk_in_anthropic_shape(
    make_gateway, upstream: FakeUpstream
) -> None:
    upstream.always(fail(429, {"error": {"message": "Rate limit reached", "type": "requests",
                                         "param": None, "code": "rate_limit_exceeded"}},
                         {"retry-after": "3"}))
    client = make_gateway(openai_config(upstream.url)).anthropic()
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model="up/gpt-4o-mini", max_tokens=10,
                               messages=[{"role": "user", "content": "x"}])
    assert caught.value.body == {"type": "error", "error": {"type": "rate_limit_error",
                                                             "message": "Rate limit reached"}}
    assert caught.value.response.headers["retry-after"] == "3"


def test_anthropic_only_content_is_refused_for_other_providers(make_gateway, upstream) -> None:
    client = make_gateway(openai_config(upstream.url)).anthropic()
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="up/gpt-4o-mini", max_tokens=10, messages=[{"role": "user", "content": [
            {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}}]}])
    assert "document" in caught.value.body["error"]["message"]
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="up/gpt-4o-mini", max_tokens=10, tools=[
            {"type": "web_search_20250305", "name": "web_search"}],
            messages=[{"role": "user", "content": "x"}])
    assert "web_search_20250305" in caught.value.body["error"]["message"]
    assert upstream.requests == []


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "fragment"), [
    ({"model": "mock-1", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
    ({"model": "mock-1", "max_tokens": 5, "messages": []}, "messages"),
    ({"model": "mock-1", "max_tokens": 5, "messages": [{"role": "tool", "content": "x"}]},
     "messages.0.role"),
    ({"model": "mock-1", "max_tokens": 5, "messages": [
        {"role": "user", "content": "x"},
        {"role": "system", "content": [{"type": "image", "source": {}}]}]}, "messages.1.content.0"),
    ({"model": "mock-1", "max_tokens": 5, "messages": [{"role": "user", "content": 3}]},
     "messages.0.content"),
    ({"model": "mock-1", "max_tokens": 5, "temperature": 1.5,
      "messages": [{"role": "user", "content": "x"}]}, "temperature"),
    ({"model": "mock-1", "max_tokens": 5, "tool_choice": {"type": "sometimes"},
      "messages": [{"role": "user", "content": "x"}]}, "tool_choice"),
    ({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}, "model"),
])
def test_bad_requests_are_400s_in_anthropic_shape(make_gateway, body: dict, fragment: str) -> None:
    gateway = make_gateway(MOCK_ONLY)
    response = httpx.post(gateway.url + "/v1/messages", json=body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["type"] == "error" and payload["error"]["type"] == "invalid_request_error"
    assert fragment in payload["error"]["message"]


def test_unknown_model_and_http_errors_in_anthropic_shape(make_gateway) -> None:
    gateway = make_gateway(MOCK_ONLY)
    with pytest.raises(anthropic.NotFoundError) as caught:
        gateway.anthropic().messages.create(model="claude-9", max_tokens=5,
                                            messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["error"]["type"] == "not_found_error"
    assert "mock" in caught.value.body["error"]["message"]
    not_json = httpx.post(gateway.url + "/v1/messages", content=b"{oops",
                          headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["type"] == "error"
    wrong_method = httpx.get(gateway.url + "/v1/messages")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["type"] == "invalid_request_error"
    missing = httpx.post(gateway.url + "/v1/messages/batches", json={})
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    assert "error" in httpx.get(gateway.url + "/v1/nothing").json()  # other paths keep OpenAI's shape


@pytest.mark.parametrize(("content", "status"), [
    ([{"type": "image", "source": "https://example.com/cat.png"}], 400),
    ([{"type": "tool_result", "tool_use_id": "t1", "content": [3, "x"]},
      {"type": "text", "text": "go"}], 200),
    ([{"type": "search_result", "source": "s", "title": "t", "content": []}], 400),
])
def test_odd_blocks_for_other_providers_never_500(
    make_gateway, upstream: FakeUpstream, content: list, status: int
) -> None:
    upstream.always(reply({"id": "chatcmpl-1", "object": "chat.completion", "created": 1,
                           "model": "gpt-4o-mini", "choices": [{"index": 0, "finish_reason": "stop",
                           "message": {"role": "assistant", "content": "ok"}}]}))
    gateway = make_gateway(openai_config(upstream.url))
    response = httpx.post(gateway.url + "/v1/messages", json={
        "model": "up/gpt-4o-mini", "max_tokens": 5, "messages": [{"role": "user", "content": content}]})
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["error"]["type"] == "invalid_request_error"
    else:
        assert response.json()["content"] == [{"type": "text", "text": "ok"}]


def test_malformed_openai_answer_is_a_502_in_anthropic_shape(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply({"id": "chatcmpl-1", "object": "chat.completion", "choices": ["nope"]}))
    client = make_gateway(openai_config(upstream.url)).anthropic()
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model="up/gpt-4o-mini", max_tokens=5,
                               messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 502
    assert caught.value.body["error"] == {"type": "api_error",
                                          "message": "the provider sent an answer llmp could not read"}
    assert caught.value.response.headers["x-llmp-provider"] == "up"
