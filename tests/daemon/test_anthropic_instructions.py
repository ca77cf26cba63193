"""Messages as current Anthropic clients send them, through the official `anthropic` SDK.

Instructions inside `messages` (`system`, `developer`), thinking and redacted
thinking replayed from earlier turns, documents, counting tokens: relayed
untouched to an Anthropic provider, translated with care for the others.
"""

from __future__ import annotations

import anthropic
import httpx
import pytest

from tests.daemon.anthropic_fixtures import config as anthropic_config
from tests.daemon.anthropic_fixtures import load
from tests.daemon.claude_code_fixtures import request
from tests.daemon.gemini_fixtures import gemini_config
from tests.daemon.gemini_fixtures import load as gemini_load
from tests.daemon.test_anthropic_sdk import MOCK_ONLY
from tests.daemon.test_openai_sdk import COMPLETION, chunk, openai_config
from tests.support.fake_upstream import FakeUpstream, reply, sse_json, stream

PASSED = "claude/claude-sonnet-4-5-20250929"
THINKING = {"type": "thinking", "thinking": "They want Paris.", "signature": "EqQBCgIYAhIM1gbc"}
REDACTED = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3p"}
CONVERSATION = [
    {"role": "user", "content": "What is the weather in Paris?"},
    {"role": "system", "content": "Answer in one sentence."},
    {"role": "assistant", "content": [THINKING, REDACTED, {"type": "text", "text": "Sunny, 21°C."}]},
    {"role": "developer", "content": [{"type": "text", "text": "Prefer metric units.",
                                       "cache_control": {"type": "ephemeral"}}]},
    {"role": "user", "content": "And tomorrow?"},
]


def test_the_issues_request_reaches_anthropic_as_sent(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(load("response_text.json")))
    gateway = make_gateway(anthropic_config(upstream.url))
    body = {"model": PASSED, "max_tokens": 5,
            "messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": "x"}]}
    response = httpx.post(gateway.url + "/v1/messages?beta=true", json=body)
    assert response.status_code == 200
    assert response.json() == load("response_text.json")
    assert upstream.requests[-1].json == {**body, "model": "claude-sonnet-4-5-20250929"}


def test_pass_through_leaves_judging_to_anthropic(make_gateway, upstream: FakeUpstream) -> None:
    refusal = load("errors.json")["invalid_request"]
    upstream.always(reply(refusal["body"], status=400))
    client = make_gateway(anthropic_config(upstream.url)).anthropic()
    odd = {"model": PASSED, "messages": [{"role": "narrator", "content": 7}], "temperature": 3}
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.post("/v1/messages", body=odd, cast_to=object)
    # the upstream's own words, in Anthropic's shape
    assert caught.value.body == {"type": "error", "error": refusal["body"]["error"]}
    assert upstream.requests[-1].json == {**odd, "model": "claude-sonnet-4-5-20250929"}


def test_sdk_conversation_passes_through_with_its_thinking(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(load("response_thinking_tool_use.json")))
    client = make_gateway(anthropic_config(upstream.url)).anthropic()
    message = client.messages.create(
        model=PASSED, max_tokens=2000, system="You are terse.", messages=CONVERSATION,
        thinking={"type": "adaptive"}, extra_headers={"anthropic-beta": "mid-conversation-system-2026-04-07"},
        extra_body={"context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}},
    )
    assert [block.type for block in message.content] == ["thinking", "redacted_thinking", "tool_use"]
    sent = upstream.requests[-1]
    assert sent.json["messages"] == CONVERSATION
    assert sent.json["context_management"]["edits"][0]["keep"] == "all"
    assert sent.headers["anthropic-beta"] == "mid-conversation-system-2026-04-07"


def test_sdk_conversation_translated_to_openai(make_gateway, upstream: FakeUpstream) -> None:
    answer = {**COMPLETION, "choices": [{**COMPLETION["choices"][0], "message": {
        "role": "assistant", "content": "Rain, 14°C.", "reasoning_content": "Tomorrow, Paris."}}]}
    upstream.always(reply(answer))
    client = make_gateway(openai_config(upstream.url)).anthropic()
    message = client.messages.create(model="up/gpt-4o-mini", max_tokens=200, system="You are terse.",
                                     messages=CONVERSATION, thinking={"type": "adaptive"})
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.content[1].text == "Rain, 14°C."
    assert upstream.requests[-1].json["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "system", "content": "Answer in one sentence."},
        {"role": "assistant", "content": "Sunny, 21°C."},  # the thinking only Anthropic can read is left out
        {"role": "developer", "content": [{"type": "text", "text": "Prefer metric units."}]},
        {"role": "user", "content": "And tomorrow?"},
    ]
    assert "thinking" not in upstream.requests[-1].json


def test_sdk_conversation_translated_to_gemini(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(gemini_load("text_response.json")))
    client = make_gateway(gemini_config(upstream.url)).anthropic()
    message = client.messages.create(model="gemini/gemini-2.5-flash", max_tokens=200,
                                     system="You are terse.", messages=CONVERSATION)
    assert message.content[-1].type == "text" and message.content[-1].text
    sent = upstream.requests[-1].json
    assert sent["systemInstruction"] == {"parts": [
        {"text": "You are terse."}, {"text": "Answer in one sentence."}, {"text": "Prefer metric units."}]}
    assert sent["contents"] == [
        {"role": "user", "parts": [{"text": "What is the weather in Paris?"}]},
        {"role": "model", "parts": [{"text": "Sunny, 21°C."}]},
        {"role": "user", "parts": [{"text": "And tomorrow?"}]},
    ]


def test_mock_provider_takes_instructions_anywhere(make_gateway) -> None:
    client = make_gateway(MOCK_ONLY).anthropic()
    message = client.messages.create(model="mock-1", max_tokens=50, messages=CONVERSATION)
    assert message.content[0].type == "text" and message.stop_reason == "end_turn"


def test_documents_become_text_and_file_parts(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(COMPLETION))
    client = make_gateway(openai_config(upstream.url)).anthropic()
    client.messages.create(model="up/gpt-4o-mini", max_tokens=20, messages=[{"role": "user", "content": [
        {"type": "document", "title": "notes.txt",
         "source": {"type": "text", "media_type": "text/plain", "data": "Buy milk."}},
        {"type": "document", "cache_control": {"type": "ephemeral"},
         "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}},
        {"type": "text", "text": "Summarise both."}]}])
    assert upstream.requests[-1].json["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "notes.txt\n\nBuy milk."},
        {"type": "file", "file": {"filename": "document.pdf",
                                  "file_data": "data:application/pdf;base64,JVBERi0x"}},
        {"type": "text", "text": "Summarise both."}]}]


# -- counting tokens -------------------------------------------------------------------


@pytest.mark.parametrize(("config", "model"), [
    (openai_config, "up/gpt-4o-mini"), (lambda url: MOCK_ONLY, "mock-1"),
])
def test_count_tokens_is_an_estimate_marked_as_one(
    make_gateway, upstream: FakeUpstream, config, model
) -> None:
    client = make_gateway(config(upstream.url)).anthropic()
    short = client.messages.with_raw_response.count_tokens(
        model=model, messages=[{"role": "user", "content": "hi"}])
    assert short.headers["x-llmp-token-count"] == "estimate"
    long_body = request("long_context.json")["body"]
    counted = client.messages.count_tokens(model=model, messages=long_body["messages"],
                                           system=long_body["system"], tools=long_body["tools"])
    chars = sum(len(b["text"]) for b in long_body["messages"][0]["content"])
    assert chars // 4 < counted.input_tokens < chars  # about four characters a token, tools on top
    assert short.parse().input_tokens < 20
    assert upstream.requests == []  # nothing to ask: the guess is llmp's


def test_counting_on_anthropic_is_anthropics_own(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply({"input_tokens": 14}))
    client = make_gateway(anthropic_config(upstream.url)).anthropic()
    counted = client.messages.with_raw_response.count_tokens(model=PASSED, messages=CONVERSATION)
    assert counted.parse().input_tokens == 14
    assert "x-llmp-token-count" not in counted.headers
    assert upstream.requests[-1].json["messages"] == CONVERSATION


def test_gemini_counts_with_its_own_endpoint(make_gateway, upstream: FakeUpstream) -> None:
    upstream.then(reply({"totalTokens": 31, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 31}]}))
    client = make_gateway(gemini_config(upstream.url)).anthropic()
    counted = client.messages.with_raw_response.count_tokens(
        model="gemini/gemini-2.5-flash", system="You are terse.", messages=CONVERSATION)
    assert counted.parse().input_tokens == 31 and "x-llmp-token-count" not in counted.headers
    sent = upstream.requests[-1]
    assert sent.path == "/v1beta/models/gemini-2.5-flash:countTokens"
    generate = sent.json["generateContentRequest"]
    assert generate["model"] == "models/gemini-2.5-flash"
    assert len(generate["systemInstruction"]["parts"]) == 3 and len(generate["contents"]) == 3
    # Gemini refusing to count still leaves the client with a number, marked as a guess.
    upstream.then(reply({"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}, status=404))
    guessed = client.messages.with_raw_response.count_tokens(
        model="gemini/gemini-2.5-flash", messages=CONVERSATION)
    assert guessed.headers["x-llmp-token-count"] == "estimate" and guessed.parse().input_tokens > 0


def test_sdk_streams_a_translated_tool_turn_and_replays_it(make_gateway, upstream: FakeUpstream) -> None:
    upstream.then(stream(sse_json([
        chunk({"role": "assistant", "reasoning_content": "Check tomorrow's forecast."}),
        chunk({"tool_calls": [{"index": 0, "id": "call_7", "type": "function",
                               "function": {"name": "get_weather", "arguments": '{"city": '}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
        chunk({}, "tool_calls"),
        chunk({}, usage={"prompt_tokens": 40, "completion_tokens": 9, "total_tokens": 49}),
    ])), reply(COMPLETION))
    client = make_gateway(openai_config(upstream.url)).anthropic()
    tool = {"name": "get_weather", "input_schema": {"type": "object",
                                                    "properties": {"city": {"type": "string"}}}}
    with client.messages.stream(model="up/gpt-4o-mini", max_tokens=200, tools=[tool],
                                messages=CONVERSATION, thinking={"type": "adaptive"}) as events_seen:
        turn = events_seen.get_final_message()
    thinking, call = turn.content
    assert thinking.thinking == "Check tomorrow's forecast." and turn.stop_reason == "tool_use"
    assert (call.name, call.input) == ("get_weather", {"city": "Paris"})
    assert turn.usage.input_tokens == 40 and turn.usage.output_tokens == 9
    client.messages.create(model="up/gpt-4o-mini", max_tokens=200, tools=[tool], messages=[
        *CONVERSATION, {"role": "assistant", "content": [block.model_dump() for block in turn.content]},
        {"role": "system", "content": "Use the tool's words."},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "Rain"}]}])
    replayed = upstream.requests[-1].json["messages"][-4:]
    assert replayed == [
        {"role": "user", "content": "And tomorrow?"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_7", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "system", "content": "Use the tool's words."},
        {"role": "tool", "tool_call_id": "call_7", "content": "Rain"},
    ]


def test_a_route_that_may_translate_checks_first(make_gateway, make_upstream) -> None:
    claude, other = make_upstream(), make_upstream()
    claude.always(reply(load("response_text.json")))
    gateway = make_gateway(anthropic_config(claude.url, f"""
  up:
    type: openai
    base_url: {other.url}/v1
    api_key: sk-test-upstream-key-123456
models:
  coder: [{PASSED}, up/gpt-4o-mini]
"""))
    client = gateway.anthropic()
    message = client.messages.create(model="coder", max_tokens=20, messages=CONVERSATION)
    assert message.content[0].type == "text"
    assert claude.requests[-1].json["messages"] == CONVERSATION
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="coder", max_tokens=20, messages=[{"role": "narrator", "content": "x"}])
    assert "messages.0.role" in caught.value.body["error"]["message"]
    assert len(claude.requests) == 1 and other.requests == []
