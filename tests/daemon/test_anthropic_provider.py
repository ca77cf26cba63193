"""The official `openai` SDK against the gateway with a fake Anthropic upstream replaying golden fixtures."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from llmp.core.config_loader import parse_config
from llmp.daemon.providers.anthropic import AnthropicProvider
from tests.daemon.anthropic_fixtures import config, events, load
from tests.support.fake_upstream import FakeUpstream, fail, reply, stream

MODEL = "claude/claude-sonnet-4-5-20250929"
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


def test_chat_is_translated_both_ways(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(load("response_tool_use.json")))
    client = make_gateway(config(upstream.url)).openai()
    request = load("openai_request_multiturn.json")
    answer = client.chat.completions.create(**{**request, "model": MODEL})
    sent = upstream.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == "sk-ant-test-upstream-key-123456"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in sent.headers
    assert sent.json == load("request_multiturn.json")
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "I'll check the current weather in San Francisco for you."
    call = choice.message.tool_calls[0]
    assert call.id == "toolu_01A09q90qw90lq917835lq9"
    assert json.loads(call.function.arguments) == {"location": "San Francisco, CA", "unit": "celsius"}
    assert answer.usage.prompt_tokens == 384 and answer.usage.completion_tokens == 73


def test_cached_tokens_are_reported(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(load("response_text.json")))
    client = make_gateway(config(upstream.url + "/v1")).openai()  # a root given with /v1 works too
    answer = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "Hello! How can I help you today?"
    assert answer.usage.prompt_tokens == 2090
    assert answer.usage.prompt_tokens_details.cached_tokens == 2048
    assert upstream.requests[-1].json["max_tokens"] == 4096
    assert upstream.requests[-1].path == "/v1/messages"


def test_streamed_tool_call_reaches_the_client_whole(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(events("stream_tool_use.sse")))
    client = make_gateway(config(upstream.url)).openai()
    text, ids, names, arguments, finish, usage = "", [], [], "", None, None
    for chunk in client.chat.completions.create(
        model=MODEL, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Weather in SF?"}], tools=[WEATHER_TOOL],
    ):
        usage = chunk.usage or usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
            for call in choice.delta.tool_calls or []:
                ids.append(call.id)
                names.append(call.function.name)
                arguments += call.function.arguments or ""
    assert text == "Okay, let's check the weather for San Francisco, CA:"
    assert ids[0] == "toolu_01T1x1fJ34qAmk2tNTrN7Up6" and names[0] == "get_weather"
    assert json.loads(arguments) == {"location": "San Francisco, CA", "unit": "fahrenheit",
                                     "days": [1, 2]}
    assert finish == "tool_calls"
    assert usage.prompt_tokens == 600 and usage.prompt_tokens_details.cached_tokens == 128
    assert usage.completion_tokens == 89
    sent = upstream.requests[-1].json
    assert sent["stream"] is True and "stream_options" not in sent
    assert sent["tools"][0]["input_schema"] == WEATHER_TOOL["function"]["parameters"]


def test_streamed_tool_call_without_arguments_has_json_arguments(
    make_gateway, upstream: FakeUpstream
) -> None:
    """Anthropic streams no JSON for a tool without parameters; the client still gets `{}`,
    and the call goes back to Anthropic as a valid tool_use on the next turn."""
    upstream.then(stream(events("stream_tool_use_no_arguments.sse")), reply(load("response_text.json")))
    client = make_gateway(config(upstream.url)).openai()
    snooze = {"type": "function", "function": {"name": "snooze_alarm", "parameters": {
        "type": "object", "properties": {}}}}
    messages: list[dict] = [{"role": "user", "content": "Snooze, then weather in Oslo."}]
    calls: dict[int, dict] = {}
    for chunk in client.chat.completions.create(model=MODEL, stream=True, messages=messages,
                                                tools=[snooze, WEATHER_TOOL]):
        for call in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            entry = calls.setdefault(call.index, {"id": call.id, "name": call.function.name,
                                                  "arguments": ""})
            entry["arguments"] += call.function.arguments or ""
    assert [(c["id"], c["name"]) for c in calls.values()] == [
        ("toolu_01Q8cFZ5yXb3NwLJm4kTgR2v", "snooze_alarm"),
        ("toolu_01HkV7m2TzQ4sWd9pYc3LbN6", "get_weather")]
    assert [json.loads(c["arguments"]) for c in calls.values()] == [{}, {"city": "Oslo"}]
    messages.append({"role": "assistant", "content": None, "tool_calls": [
        {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
        for c in calls.values()]})
    messages += [{"role": "tool", "tool_call_id": c["id"], "content": "done"} for c in calls.values()]
    client.chat.completions.create(model=MODEL, messages=messages, tools=[snooze, WEATHER_TOOL])
    assert [block["input"] for block in upstream.requests[1].json["messages"][1]["content"]] == [
        {}, {"city": "Oslo"}]


def test_thinking_and_tool_use_round_trip_keeps_the_signature(
    make_gateway, upstream: FakeUpstream
) -> None:
    original = load("response_thinking_tool_use.json")
    upstream.then(reply(original), reply(load("response_text.json")))
    client = make_gateway(config(upstream.url)).openai()
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL],
                                           reasoning_effort="low")
    assert upstream.requests[0].json["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assistant = first.choices[0].message.model_dump(exclude_none=True)
    assert assistant["reasoning_content"].startswith("The user wants the weather in Paris.")
    call = first.choices[0].message.tool_calls[0]
    messages += [assistant, {"role": "tool", "tool_call_id": call.id, "content": "18C, clear"}]
    client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL],
                                   reasoning_effort="low")
    replayed = upstream.requests[1].json["messages"]
    assert replayed[1] == {"role": "assistant", "content": original["content"]}
    assert replayed[2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_01CswdEQBMshySk6Y9DFKrfq",
         "content": "18C, clear"}]}


def test_streamed_thinking_can_be_replayed(make_gateway, upstream: FakeUpstream) -> None:
    upstream.then(stream(events("stream_thinking_tool_use.sse")), reply(load("response_text.json")))
    client = make_gateway(config(upstream.url)).openai()
    reasoning, blocks, calls = "", [], {}
    for chunk in client.chat.completions.create(
        model=MODEL, stream=True, messages=[{"role": "user", "content": "Paris?"}],
        tools=[WEATHER_TOOL], extra_body={"thinking": {"type": "enabled", "budget_tokens": 1024}},
    ):
        delta = chunk.choices[0].delta
        extra = delta.model_extra or {}
        reasoning += extra.get("reasoning_content") or ""
        blocks += extra.get("thinking_blocks") or []
        for call in delta.tool_calls or []:
            entry = calls.setdefault(call.index, {"id": call.id, "name": call.function.name, "args": ""})
            entry["args"] += call.function.arguments or ""
    assert reasoning.endswith("call get_weather with city Paris.")
    assert upstream.requests[0].json["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    tool_calls = [{"id": c["id"], "type": "function",
                   "function": {"name": c["name"], "arguments": c["args"]}} for c in calls.values()]
    client.chat.completions.create(model=MODEL, messages=[
        {"role": "user", "content": "Paris?"},
        {"role": "assistant", "content": None, "tool_calls": tool_calls, "thinking_blocks": blocks},
        {"role": "tool", "tool_call_id": tool_calls[0]["id"], "content": "18C"},
    ], tools=[WEATHER_TOOL])
    assert upstream.requests[1].json["messages"][1] == {
        "role": "assistant", "content": load("response_thinking_tool_use.json")["content"]}


def test_openai_stream_helper_accumulates_thinking_blocks(make_gateway, upstream: FakeUpstream) -> None:
    """The SDK's own accumulator (`.stream()`) merges list deltas by index: ours must have one."""
    upstream.then(stream(events("stream_thinking_tool_use.sse")), reply(load("response_text.json")))
    client = make_gateway(config(upstream.url)).openai()
    messages = [{"role": "user", "content": "Paris?"}]
    with client.chat.completions.stream(model=MODEL, messages=messages, tools=[WEATHER_TOOL],
                                        reasoning_effort="low") as events_seen:
        final = events_seen.get_final_completion()
    assistant = final.choices[0].message.model_dump(exclude_none=True)
    assert [b["type"] for b in assistant["thinking_blocks"]] == ["thinking", "redacted_thinking"]
    assert json.loads(final.choices[0].message.tool_calls[0].function.arguments) == {"city": "Paris"}
    messages += [assistant, {"role": "tool", "tool_call_id": "toolu_01CswdEQBMshySk6Y9DFKrfq",
                             "content": "18C"}]
    client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL],
                                   reasoning_effort="low")
    assert upstream.requests[1].json["messages"][1] == {
        "role": "assistant", "content": load("response_thinking_tool_use.json")["content"]}


@pytest.mark.parametrize(("name", "error_class"), [
    ("overloaded", openai.InternalServerError),
    ("rate_limit", openai.RateLimitError),
    ("authentication", openai.AuthenticationError),
    ("prompt_too_long", openai.BadRequestError),
    ("not_found", openai.NotFoundError),
    ("api_error", openai.InternalServerError),
])
def test_upstream_errors_keep_status_and_message(
    make_gateway, upstream: FakeUpstream, name: str, error_class: type
) -> None:
    fixture = load("errors.json")[name]
    upstream.always(fail(fixture["status"], fixture["body"], fixture.get("headers")))
    client = make_gateway(config(upstream.url)).openai()
    with pytest.raises(error_class) as caught:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == fixture["status"]
    assert caught.value.body["message"] == fixture["body"]["error"]["message"]
    assert caught.value.body["type"] == fixture["body"]["error"]["type"]
    assert "sk-ant-test" not in str(caught.value.body)
    if name == "rate_limit":
        assert caught.value.response.headers["Retry-After"] == "17"
    if name == "prompt_too_long":
        assert caught.value.body["code"] == "context_length_exceeded"


def test_error_status_before_a_stream_keeps_status_and_message(
    make_gateway, upstream: FakeUpstream
) -> None:
    fixture = load("errors.json")["overloaded"]
    upstream.always(fail(fixture["status"], fixture["body"]))
    client = make_gateway(config(upstream.url)).openai()
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model=MODEL, stream=True,
                                       messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 529
    assert caught.value.body["message"] == "Overloaded"


def test_openai_only_features_are_clear_400s(make_gateway, upstream: FakeUpstream) -> None:
    client = make_gateway(config(upstream.url)).openai()
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, n=2, messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["param"] == "n"
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, response_format={"type": "json_object"},
                                       messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["param"] == "response_format"
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=MODEL, input="hello")
    assert "embeddings" in caught.value.body["message"]
    assert upstream.requests == []


def test_error_event_mid_stream_ends_the_openai_stream(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(events("stream_error_midway.sse")))
    gateway = make_gateway(config(upstream.url))
    with httpx.stream("POST", gateway.base_url + "/chat/completions", json={
        "model": MODEL, "stream": True, "messages": [{"role": "user", "content": "story"}],
    }) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert response.status_code == 200
    assert json.loads(lines[1][6:])["choices"][0]["delta"]["content"] == "Once upon"
    assert json.loads(lines[-1][6:])["error"]["message"] == "Overloaded"
    assert "data: [DONE]" not in lines


def test_stream_cut_mid_way_ends_with_error_event(make_gateway, upstream: FakeUpstream) -> None:
    # Paced, so what was sent before the cut is read before the cut (a reset discards unread data).
    upstream.always(stream(events("stream_text.sse"), drop_after=5, delay=0.05))
    client = make_gateway(config(upstream.url)).openai()
    received = ""
    with pytest.raises(openai.APIError) as caught:
        for chunk in client.chat.completions.create(
            model=MODEL, stream=True, messages=[{"role": "user", "content": "x"}]
        ):
            received += chunk.choices[0].delta.content or ""
    assert received.startswith("Hello")
    assert "claude" in str(caught.value.message)
    with httpx.stream("POST", str(client.base_url) + "chat/completions", json={
        "model": MODEL, "stream": True, "messages": [{"role": "user", "content": "x"}],
    }) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert json.loads(lines[1][6:])["choices"][0]["delta"]["content"] == "Hello"
    assert "before the answer was complete" in json.loads(lines[-1][6:])["error"]["message"]
    assert "data: [DONE]" not in lines


async def test_list_models_reads_the_models_endpoint(upstream: FakeUpstream) -> None:
    upstream.always(reply({"data": [
        {"type": "model", "id": "claude-sonnet-4-5-20250929", "display_name": "Claude Sonnet 4.5",
         "created_at": "2025-09-29T00:00:00Z"},
        {"type": "model", "id": "claude-haiku-4-5-20251001", "display_name": "Claude Haiku 4.5",
         "created_at": "2025-10-01T00:00:00Z"}],
        "has_more": False, "first_id": "claude-sonnet-4-5-20250929",
        "last_id": "claude-haiku-4-5-20251001"}))
    spec = parse_config(config(upstream.url)).providers["claude"]
    provider = AnthropicProvider("claude", spec)
    await provider.start()
    try:
        assert await provider.list_models() == ["claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"]
    finally:
        await provider.close()
    assert upstream.requests[-1].path == "/v1/models"
    assert upstream.requests[-1].headers["x-api-key"] == "sk-ant-test-upstream-key-123456"


@pytest.mark.parametrize("extra", [
    {"tools": [3]},
    {"tools": [{"type": "function", "function": {"name": "f", "parameters": [1]}}]},
    {"stop": 5},
    {"response_format": {"type": "json_schema", "json_schema": "nope"}},
    {"reasoning_effort": {"a": 1}},
    {"messages": [{"role": "assistant", "content": "x", "tool_calls": {"id": 1}}]},
    {"messages": [{"role": "assistant", "content": "x", "thinking_blocks": 7}]},
    {"messages": [{"role": "user", "content": [7, {"type": "image_url", "image_url": 3}]}]},
    {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
    {"messages": [{"role": "tool", "content": "no id"}]},
])
def test_malformed_requests_are_400s_never_500s(make_gateway, upstream: FakeUpstream, extra: dict) -> None:
    gateway = make_gateway(config(upstream.url))
    body = {"model": MODEL, "messages": [{"role": "user", "content": "x"}], **extra}
    response = httpx.post(gateway.base_url + "/chat/completions", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"]
    assert upstream.requests == []


@pytest.mark.parametrize("answer", [
    {"type": "message", "content": [], "usage": [1]},
    {"type": "message", "content": [{"type": "text", "text": "a"}], "usage": {"input_tokens": "many"}},
])
def test_malformed_upstream_answer_is_a_502(make_gateway, upstream: FakeUpstream, answer: dict) -> None:
    upstream.always(reply(answer))
    gateway = make_gateway(config(upstream.url))
    response = httpx.post(gateway.base_url + "/chat/completions",
                          json={"model": MODEL, "messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == 502
    assert response.json()["error"]["message"] == "provider 'claude' sent an answer llmp could not read"


def test_malformed_stream_event_ends_with_an_error_event(make_gateway, upstream: FakeUpstream) -> None:
    bad = b'event: content_block_start\ndata: {"type":"content_block_start","index":"x"}\n\n'
    upstream.always(stream([*events("stream_text.sse")[:2], bad]))
    gateway = make_gateway(config(upstream.url))
    with httpx.stream("POST", gateway.base_url + "/chat/completions", json={
        "model": MODEL, "stream": True, "messages": [{"role": "user", "content": "x"}],
    }) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert "could not read" in json.loads(lines[-1][6:])["error"]["message"]
