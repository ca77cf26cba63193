"""Claude Code's real requests (golden fixtures) through llmp to each kind of provider.

Pass-through to Anthropic must send the body exactly as Claude Code wrote it
(mid-array `system` entries, thinking blocks, `context_management`, betas);
translation to an OpenAI-compatible or a Gemini upstream must keep the
instructions, the conversation and the tools, and stream back events the
client can assemble (tool input arrives as `input_json_delta`).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.daemon.anthropic_fixtures import config as anthropic_config
from tests.daemon.anthropic_fixtures import events as anthropic_events
from tests.daemon.anthropic_fixtures import transcript
from tests.daemon.claude_code_fixtures import SESSIONS, mid_array_systems, request
from tests.daemon.gemini_fixtures import events as gemini_events
from tests.daemon.gemini_fixtures import gemini_config
from tests.daemon.test_openai_sdk import openai_config
from tests.support.fake_upstream import FakeUpstream, reply, sse_json, stream

ROUTED = {"anthropic": "claude/claude-sonnet-4-5-20250929", "openai": "up/gpt-4o-mini",
          "gemini": "gemini/gemini-2.5-flash"}


def replay(gateway_url: str, fixture: dict[str, Any], model: str) -> tuple[httpx.Response, bytes]:
    """Send the fixture as Claude Code did: same path (with `?beta=true`), headers and body."""
    body = {**fixture["body"], "model": model}
    headers = {**fixture["headers"], "x-api-key": "sk-ant-client-placeholder"}
    with httpx.stream("POST", gateway_url + fixture["path"], headers=headers,
                      content=json.dumps(body), timeout=30) as response:
        return response, response.read()


def sse_events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for block in raw.decode().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            found.append((lines["event"], json.loads(lines["data"])))
    return found


def assembled(raw: bytes) -> list[dict[str, Any]]:
    """The content blocks a client builds from a stream, tool input parsed from its JSON deltas."""
    blocks: dict[int, dict[str, Any]] = {}
    partial: dict[int, str] = {}
    for name, data in sse_events(raw):
        if name == "content_block_start":
            blocks[data["index"]] = dict(data["content_block"])
        elif name == "content_block_delta":
            delta = data["delta"]
            if delta["type"] == "text_delta":
                blocks[data["index"]]["text"] += delta["text"]
            elif delta["type"] == "input_json_delta":
                partial[data["index"]] = partial.get(data["index"], "") + delta["partial_json"]
    for index, text in partial.items():
        blocks[index]["input"] = json.loads(text)
    return [blocks[i] for i in sorted(blocks)]


@pytest.mark.parametrize("name", SESSIONS)
def test_pass_through_sends_claude_codes_body_untouched(make_gateway, upstream: FakeUpstream,
                                                        name: str) -> None:
    fixture = request(name)
    upstream.always(stream(anthropic_events("stream_tool_use.sse")))
    gateway = make_gateway(anthropic_config(upstream.url))
    response, raw = replay(gateway.url, fixture, ROUTED["anthropic"])
    assert response.status_code == 200
    assert raw == transcript("stream_tool_use.sse")
    sent = upstream.requests[-1]
    assert sent.json == {**fixture["body"], "model": "claude-sonnet-4-5-20250929"}
    assert sent.headers["anthropic-beta"] == fixture["headers"]["anthropic-beta"]
    assert sent.headers["anthropic-version"] == fixture["headers"]["anthropic-version"]
    assert sent.headers["x-api-key"] == "sk-ant-test-upstream-key-123456"  # llmp's key, not the client's


OPENAI_TOOL_STREAM = [
    {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
     "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Running it."}}]},
    {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
     "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                                        "function": {"name": "Bash",
                                                                     "arguments": '{"command": "ec'}}]}}]},
    {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
     "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0,
                                                        "function": {"arguments": 'ho hi"}'}}]}}]},
    {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
     "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
     "choices": [], "usage": {"prompt_tokens": 900, "completion_tokens": 12, "total_tokens": 912}},
]


@pytest.mark.parametrize("name", SESSIONS)
def test_translated_to_openai_keeps_instructions_in_place(make_gateway, upstream: FakeUpstream,
                                                          name: str) -> None:
    fixture = request(name)
    upstream.always(stream(sse_json(OPENAI_TOOL_STREAM)))
    gateway = make_gateway(openai_config(upstream.url))
    response, raw = replay(gateway.url, fixture, ROUTED["openai"])
    assert response.status_code == 200, raw
    sent = upstream.requests[-1].json
    messages = sent["messages"]
    system = fixture["body"]["system"]
    assert messages[0] == {"role": "system", "content": [{"type": "text", "text": b["text"]} for b in system]}
    (position, instruction), = mid_array_systems(fixture["body"])
    assert messages[position + 1] == {"role": "system", "content": instruction}  # +1: the system prompt
    assert [t["function"]["name"] for t in sent["tools"]] == [t["name"] for t in fixture["body"]["tools"]]
    for key in ("thinking", "context_management", "output_config", "metadata"):
        assert key not in sent
    assert sent["stream"] is True and sent["max_tokens"] == fixture["body"]["max_tokens"]
    text, tool = assembled(raw)
    assert text == {"type": "text", "text": "Running it."}
    assert tool == {"type": "tool_use", "id": "call_1", "name": "Bash", "input": {"command": "echo hi"}}
    names = [n for n, _ in sse_events(raw)]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert sse_events(raw)[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_tool_round_trip_to_openai_drops_thinking_and_sends_the_result(
    make_gateway, upstream: FakeUpstream
) -> None:
    fixture = request("tool_round_trip.json")
    upstream.always(stream(sse_json(OPENAI_TOOL_STREAM)))
    gateway = make_gateway(openai_config(upstream.url))
    replay(gateway.url, fixture, ROUTED["openai"])
    messages = upstream.requests[-1].json["messages"]
    call = next(m for m in messages if m["role"] == "assistant")
    replayed = fixture["body"]["messages"][2]["content"]
    assert [b["type"] for b in replayed] == ["thinking", "tool_use"]
    assert call["content"] is None
    assert call["tool_calls"] == [{"id": replayed[1]["id"], "type": "function", "function": {
        "name": "Bash", "arguments": json.dumps(replayed[1]["input"], separators=(",", ":"))}}]
    assert messages[-1] == {"role": "tool", "tool_call_id": replayed[1]["id"], "content": "llmp-tool-42"}
    assert "thinking" not in json.dumps(call)


@pytest.mark.parametrize("name", SESSIONS)
def test_translated_to_gemini_folds_instructions_into_system_instruction(
    make_gateway, upstream: FakeUpstream, name: str
) -> None:
    fixture = request(name)
    upstream.always(stream(gemini_events("stream_function_call.sse")))
    gateway = make_gateway(gemini_config(upstream.url))
    response, raw = replay(gateway.url, fixture, ROUTED["gemini"])
    assert response.status_code == 200, raw
    sent = upstream.requests[-1]
    assert sent.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    texts = [part["text"] for part in sent.json["systemInstruction"]["parts"]]
    (_, instruction), = mid_array_systems(fixture["body"])
    assert texts == [b["text"] for b in fixture["body"]["system"]] + [instruction]
    assert all(c["role"] in ("user", "model") for c in sent.json["contents"])
    declared = [d["name"] for d in sent.json["tools"][0]["functionDeclarations"]]
    assert declared == [t["name"] for t in fixture["body"]["tools"]]
    blocks = assembled(raw)
    assert [b["name"] for b in blocks if b["type"] == "tool_use"] == ["search_flights", "get_exchange_rate"]
    assert blocks[-1]["input"] == {"from": "EUR", "to": "JPY"}


def test_tool_round_trip_to_gemini_answers_the_function_by_name(make_gateway, upstream: FakeUpstream) -> None:
    fixture = request("tool_round_trip.json")
    upstream.always(reply({"candidates": [{"content": {"role": "model", "parts": [{"text": "Done."}]},
                                           "finishReason": "STOP", "index": 0}],
                           "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 1,
                                             "totalTokenCount": 6}}))
    gateway = make_gateway(gemini_config(upstream.url))
    response, raw = replay(gateway.url, {**fixture, "body": {**fixture["body"], "stream": False}},
                           ROUTED["gemini"])
    assert response.status_code == 200, raw
    assert json.loads(raw)["content"] == [{"type": "text", "text": "Done."}]
    contents = upstream.requests[-1].json["contents"]
    call, result = contents[-2], contents[-1]
    assert call["role"] == "model" and call["parts"][0]["functionCall"]["name"] == "Bash"
    assert result["parts"] == [{"functionResponse": {"name": "Bash", "response": {"result": "llmp-tool-42"}}}]
