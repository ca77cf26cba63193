"""Canonical <-> Anthropic translation, checked against golden fixtures in Anthropic's wire format."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from llmp.daemon.api.anthropic_events import EventWriter, message_from_chat
from llmp.daemon.api.anthropic_inbound import to_canonical
from llmp.daemon.errors import ClientError, ErrorKind, UpstreamError
from llmp.daemon.providers.anthropic_request import to_anthropic
from llmp.daemon.providers.anthropic_response import chat_from_message, parse_anthropic_error
from llmp.daemon.providers.anthropic_stream import canonical_chunks
from llmp.daemon.providers.sse import SSEDecoder, SSEEvent
from tests.daemon.anthropic_fixtures import load, transcript

MODEL = "claude-sonnet-4-5-20250929"


def user(text: str = "hi") -> dict[str, Any]:
    return {"role": "user", "content": text}


def translate(**request: Any) -> dict[str, Any]:
    return to_anthropic({"model": "x", "messages": [user()], **request}, MODEL, stream=False)


# -- requests ------------------------------------------------------------------


def test_openai_request_becomes_the_golden_anthropic_request() -> None:
    converted = to_anthropic(load("openai_request_multiturn.json"), MODEL, stream=False)
    assert converted == load("request_multiturn.json")


def test_anthropic_request_becomes_the_golden_openai_request() -> None:
    assert to_canonical(load("request_multiturn.json")) == load("openai_request_multiturn.json")


def test_max_tokens_is_always_sent() -> None:
    assert translate()["max_tokens"] == 4096
    assert translate(max_tokens=50)["max_tokens"] == 50
    assert translate(max_tokens=50, max_completion_tokens=70)["max_tokens"] == 70


def test_n_above_one_is_refused() -> None:
    with pytest.raises(ClientError) as caught:
        translate(n=2)
    assert caught.value.status == 400 and caught.value.param == "n"
    assert "max_tokens" in translate(n=1)


def test_system_and_developer_prompts_go_to_the_top_level() -> None:
    body = to_anthropic({"messages": [
        {"role": "system", "content": [{"type": "text", "text": "Long rules",
                                        "cache_control": {"type": "ephemeral"}}]},
        {"role": "developer", "content": "Be brief."},
        user(),
    ]}, MODEL, stream=True)
    assert body["system"] == [
        {"type": "text", "text": "Long rules", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Be brief."},
    ]
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert body["stream"] is True


def test_images_by_url_and_by_data_url() -> None:
    parts = [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"},
         "cache_control": {"type": "ephemeral"}},
    ]
    body = to_anthropic({"messages": [{"role": "user", "content": parts}]}, MODEL, stream=False)
    assert body["messages"][0]["content"] == [
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"},
         "cache_control": {"type": "ephemeral"}},
    ]
    with pytest.raises(ClientError) as caught:
        to_anthropic({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "ftp://example.com/cat.jpg"}}]}]},
            MODEL, stream=False)
    assert caught.value.param == "messages[0].content[0].image_url.url"


def test_empty_content_is_left_out_and_same_roles_merge() -> None:
    body = to_anthropic({"messages": [
        user("first"), {"role": "user", "content": ""}, user("second"),
        {"role": "assistant", "content": None}, {"role": "assistant", "content": ""},
        user("third"),
    ]}, MODEL, stream=False)
    assert body["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "first"}, {"type": "text", "text": "second"},
        {"type": "text", "text": "third"}]}]


def test_tool_choice_and_parallel_calls() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    assert translate(tools=tools)["tools"] == [
        {"name": "f", "input_schema": {"type": "object", "properties": {}}}]
    assert translate(tools=tools, tool_choice="auto")["tool_choice"] == {"type": "auto"}
    assert translate(tools=tools, tool_choice="none")["tool_choice"] == {"type": "none"}
    named = {"type": "function", "function": {"name": "f"}}
    assert translate(tools=tools, tool_choice=named)["tool_choice"] == {"type": "tool", "name": "f"}
    assert translate(tools=tools, parallel_tool_calls=False)["tool_choice"] == {
        "type": "auto", "disable_parallel_tool_use": True}
    assert "tool_choice" not in translate(tool_choice="auto")  # no tools, nothing to choose


def test_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"],
              "additionalProperties": False}
    body = translate(response_format={"type": "json_schema",
                                      "json_schema": {"name": "x", "schema": schema, "strict": True}})
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "output_config" not in translate(response_format={"type": "text"})
    with pytest.raises(ClientError) as caught:
        translate(response_format={"type": "json_object"})
    assert caught.value.param == "response_format" and "json_schema" in caught.value.message


def test_reasoning_effort_becomes_a_thinking_budget_below_max_tokens() -> None:
    body = translate(reasoning_effort="medium")
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert body["max_tokens"] > 8192
    assert translate(reasoning_effort="high", max_tokens=5000)["thinking"]["budget_tokens"] == 4999
    assert "thinking" not in translate(reasoning_effort="minimal")
    native = {"type": "enabled", "budget_tokens": 2000}
    assert translate(reasoning_effort="high", thinking=native)["thinking"] == native
    with pytest.raises(ClientError):
        translate(reasoning_effort="high", max_tokens=1000)


def test_user_stop_extras_and_dropped_parameters() -> None:
    body = translate(user="u-1", stop="END", top_k=5, seed=3, logit_bias={},
                     presence_penalty=0.5, metadata={"a": "b"})
    assert body["metadata"] == {"user_id": "u-1"}
    assert body["stop_sequences"] == ["END"]
    assert body["top_k"] == 5
    assert not {"seed", "logit_bias", "presence_penalty", "user", "stop"} & set(body)
    with pytest.raises(ClientError) as caught:
        translate(logit_bias={"1734": -100})  # a banned token would come back: refused
    assert caught.value.param == "logit_bias"


def test_bad_tool_arguments_and_roles_are_400s() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}
    with pytest.raises(ClientError) as caught:
        to_anthropic({"messages": [user(), {"role": "assistant", "tool_calls": [call]}]},
                     MODEL, stream=False)
    assert caught.value.param == "messages[1].tool_calls[0].function.arguments"
    with pytest.raises(ClientError):
        to_anthropic({"messages": [{"role": "function", "name": "f", "content": "x"}]},
                     MODEL, stream=False)
    with pytest.raises(ClientError):
        to_anthropic({"messages": [user()], "tools": [{"type": "web_search"}]}, MODEL, stream=False)


# -- responses -----------------------------------------------------------------


def test_text_response_and_cached_usage() -> None:
    answer = chat_from_message(load("response_text.json"))
    choice = answer["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "Hello! How can I help you today?"}
    assert choice["finish_reason"] == "stop"
    assert answer["id"] == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert answer["usage"] == {
        "prompt_tokens": 12 + 30 + 2048, "completion_tokens": 12, "total_tokens": 2102,
        "prompt_tokens_details": {"cached_tokens": 2048, "cache_creation_tokens": 30},
    }


def test_tool_use_response() -> None:
    choice = chat_from_message(load("response_tool_use.json"))["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "I'll check the current weather in San Francisco for you."
    [call] = choice["message"]["tool_calls"]
    assert call["id"] == "toolu_01A09q90qw90lq917835lq9"
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"location": "San Francisco, CA",
                                                         "unit": "celsius"}


@pytest.mark.parametrize(("reason", "finish"), [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"),
    ("tool_use", "tool_calls"), ("refusal", "content_filter"),
])
def test_stop_reasons(reason: str, finish: str) -> None:
    message = {**load("response_text.json"), "stop_reason": reason}
    assert chat_from_message(message)["choices"][0]["finish_reason"] == finish


def test_thinking_blocks_survive_a_round_trip_through_the_openai_shape() -> None:
    original = load("response_thinking_tool_use.json")
    message = chat_from_message(original)["choices"][0]["message"]
    assert message["content"] is None
    assert message["reasoning_content"].startswith("The user wants the weather in Paris.")
    replay = [user("Weather in Paris?"), message,
              {"role": "tool", "tool_call_id": "toolu_01CswdEQBMshySk6Y9DFKrfq", "content": "18C"}]
    body = to_anthropic({"messages": json.loads(json.dumps(replay))}, MODEL, stream=False)
    assert body["messages"][1] == {"role": "assistant", "content": original["content"]}
    assert body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_01CswdEQBMshySk6Y9DFKrfq", "content": "18C"}]


@pytest.mark.parametrize(("name", "kind"), [
    ("overloaded", ErrorKind.OVERLOADED), ("rate_limit", ErrorKind.RATE_LIMITED),
    ("authentication", ErrorKind.AUTH), ("prompt_too_long", ErrorKind.CONTEXT_LENGTH),
    ("invalid_request", ErrorKind.BAD_REQUEST), ("not_found", ErrorKind.NOT_FOUND),
    ("api_error", ErrorKind.SERVER_ERROR),
])
def test_error_bodies(name: str, kind: ErrorKind) -> None:
    fixture = load("errors.json")[name]
    error = parse_anthropic_error(fixture["status"], json.dumps(fixture["body"]).encode())
    assert error.kind == kind
    assert error.status == fixture["status"]
    assert error.message == fixture["body"]["error"]["message"]
    assert error.error_type == fixture["body"]["error"]["type"]


# -- streams -------------------------------------------------------------------


async def _events(raw: bytes, piece: int = 7) -> AsyncIterator[SSEEvent]:
    """The transcript split at awkward places, as the network would."""
    decoder = SSEDecoder()
    for start in range(0, len(raw), piece):
        for event in decoder.feed(raw[start:start + piece]):
            yield event
    for event in decoder.flush():
        yield event


async def _chunks(raw: bytes, include_usage: bool = True) -> list[dict[str, Any]]:
    return [c async for c in canonical_chunks(_events(raw), "claude", include_usage)]


def _assemble(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    text, reasoning, calls, blocks, finish = "", "", {}, [], None
    for chunk in chunks:
        for choice in chunk["choices"]:
            delta = choice["delta"]
            text += delta.get("content") or ""
            reasoning += delta.get("reasoning_content") or ""
            blocks += delta.get("thinking_blocks") or []
            for call in delta.get("tool_calls") or []:
                entry = calls.setdefault(call["index"], {"id": None, "name": None, "arguments": ""})
                entry["id"] = entry["id"] or call.get("id")
                entry["name"] = entry["name"] or call.get("function", {}).get("name")
                entry["arguments"] += call.get("function", {}).get("arguments") or ""
            finish = choice["finish_reason"] or finish
    return {"text": text, "reasoning": reasoning, "calls": calls, "blocks": blocks,
            "finish": finish, "usage": chunks[-1].get("usage")}


async def test_text_stream() -> None:
    chunks = await _chunks(transcript("stream_text.sse"))
    result = _assemble(chunks)
    assert result["text"] == "Hello! How can I help you today?"
    assert result["finish"] == "stop"
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert {c["id"] for c in chunks} == {"msg_01XFDUDYJgAACzvnptvVoYEL"}
    assert result["usage"]["completion_tokens"] == 12 and result["usage"]["prompt_tokens"] == 25


async def test_tool_use_stream_gives_id_name_first_and_whole_arguments() -> None:
    chunks = await _chunks(transcript("stream_tool_use.sse"))
    result = _assemble(chunks)
    assert result["text"] == "Okay, let's check the weather for San Francisco, CA:"
    first_tool_delta = next(c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("tool_calls"))
    head = first_tool_delta["choices"][0]["delta"]["tool_calls"][0]
    assert head["id"] == "toolu_01T1x1fJ34qAmk2tNTrN7Up6" and head["function"]["name"] == "get_weather"
    assert json.loads(result["calls"][0]["arguments"]) == {
        "location": "San Francisco, CA", "unit": "fahrenheit", "days": [1, 2]}
    assert result["finish"] == "tool_calls"
    assert result["usage"] == {"prompt_tokens": 600, "completion_tokens": 89, "total_tokens": 689,
                               "prompt_tokens_details": {"cached_tokens": 128}}
    assert all(c.get("usage") is None for c in await _chunks(transcript("stream_tool_use.sse"), False))


async def test_thinking_stream_keeps_the_signature() -> None:
    result = _assemble(await _chunks(transcript("stream_thinking_tool_use.sse")))
    thought = ("The user wants the weather in Paris. I should call get_weather with city Paris.")
    assert result["reasoning"] == thought
    original = load("response_thinking_tool_use.json")["content"]
    assert result["blocks"] == [{"index": 0, "type": "thinking", "thinking": thought,
                                 "signature": original[0]["signature"]},
                                {"index": 1, **original[1]}]
    assert json.loads(result["calls"][0]["arguments"]) == {"city": "Paris"}


async def test_stream_without_message_stop_is_incomplete() -> None:
    raw = transcript("stream_text.sse")
    cut = raw[: raw.index(b"event: message_delta")]
    with pytest.raises(UpstreamError) as caught:
        await _chunks(cut)
    assert caught.value.kind == ErrorKind.INCOMPLETE


async def test_error_event_mid_stream_raises_with_its_type_and_message() -> None:
    with pytest.raises(UpstreamError) as caught:
        await _chunks(transcript("stream_error_midway.sse"))
    assert caught.value.kind == ErrorKind.OVERLOADED
    assert caught.value.status == 529 and caught.value.message == "Overloaded"
    assert caught.value.provider == "claude"


# -- canonical answers written as Anthropic's --------------------------------------


def test_canonical_answer_as_anthropic_message() -> None:
    answer = chat_from_message(load("response_tool_use.json"))
    message = message_from_chat(answer)
    original = load("response_tool_use.json")
    assert message["content"] == original["content"]
    assert message["stop_reason"] == "tool_use"
    assert message["usage"]["input_tokens"] == 384 and message["usage"]["output_tokens"] == 73


async def test_canonical_stream_as_anthropic_events_matches_the_original_blocks() -> None:
    """Anthropic -> canonical -> Anthropic keeps every block, its order and its content."""
    writer = EventWriter()
    out = b"".join([writer.feed(c) for c in await _chunks(transcript("stream_tool_use.sse"))])
    out += writer.finish()
    events = [json.loads(e.data) for e in SSEDecoder().feed(out)]
    names = [e["type"] for e in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [b["type"] for b in starts] == ["text", "tool_use"]
    assert starts[1]["id"] == "toolu_01T1x1fJ34qAmk2tNTrN7Up6"
    arguments = "".join(e["delta"]["partial_json"] for e in events
                        if e["type"] == "content_block_delta" and e["index"] == 1)
    assert json.loads(arguments)["days"] == [1, 2]
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    assert events[-2]["usage"] == {"input_tokens": 472, "output_tokens": 89,
                                   "cache_creation_input_tokens": 0, "cache_read_input_tokens": 128}
