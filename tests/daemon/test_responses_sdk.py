"""The official `openai` SDK's Responses API against the gateway, whatever provider serves it.

Each provider sits behind a fake upstream speaking its real wire format: an
OpenAI-compatible chat server, Anthropic Messages (golden fixtures) and Gemini
(golden fixtures). The SDK parses every answer and stream event with its own
types, so a field out of shape fails here.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.daemon.anthropic_fixtures import config as anthropic_config
from tests.daemon.anthropic_fixtures import events as anthropic_events
from tests.daemon.anthropic_fixtures import load as anthropic_load
from tests.daemon.gemini_fixtures import events as gemini_events
from tests.daemon.gemini_fixtures import gemini_config
from tests.daemon.gemini_fixtures import load as gemini_load
from tests.daemon.test_cohere import cohere_config, fixture_json, sse_events
from tests.daemon.test_openai_sdk import openai_config
from tests.support.fake_upstream import FakeUpstream, reply, sse_json, stream

WEATHER = {"type": "function", "name": "get_weather", "description": "Weather in a city",
           "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}
SCHEMA = {"type": "json_schema", "name": "city", "strict": True, "schema": {
    "type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"],
    "additionalProperties": False}}


def chat_answer(content: str | None = None, calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25,
                      "prompt_tokens_details": {"cached_tokens": 8},
                      "completion_tokens_details": {"reasoning_tokens": 2}}}


def chat_chunks(*deltas: dict[str, Any], finish: str = "stop") -> list[bytes]:
    base = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}
    chunks = [{**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]} for delta in deltas]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    chunks.append({**base, "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4,
                                                   "total_tokens": 13}})
    return sse_json(chunks)


CALL = {"id": "call_abc", "type": "function",
        "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'}}


# -- OpenAI-compatible chat upstream ------------------------------------------------


def test_text_answer_and_usage(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(chat_answer("Bonjour")))
    client = make_gateway(openai_config(upstream.url)).openai()
    response = client.responses.create(model="up/gpt-4o-mini", input="Say hi",
                                       instructions="Answer in French", max_output_tokens=50,
                                       temperature=0.3, metadata={"k": "v"})
    assert response.output_text == "Bonjour" and response.status == "completed"
    assert response.id.startswith("resp_") and response.metadata == {"k": "v"}
    assert response.usage.input_tokens == 20 and response.usage.output_tokens == 5
    assert response.usage.input_tokens_details.cached_tokens == 8
    assert response.usage.output_tokens_details.reasoning_tokens == 2
    sent = upstream.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.json["messages"] == [{"role": "system", "content": "Answer in French"},
                                     {"role": "user", "content": "Say hi"}]
    assert sent.json["max_tokens"] == 50 and sent.json["temperature"] == 0.3


def test_function_tool_round_trip(make_gateway, upstream: FakeUpstream) -> None:
    upstream.then(reply(chat_answer(None, [CALL])), reply(chat_answer("It is sunny in Paris.")))
    client = make_gateway(openai_config(upstream.url)).openai()
    first = client.responses.create(model="up/gpt-4o-mini", input="Weather in Paris?", tools=[WEATHER])
    (call,) = first.output
    assert call.type == "function_call" and call.name == "get_weather" and call.call_id == "call_abc"
    assert json.loads(call.arguments) == {"location": "Paris"}
    assert upstream.requests[-1].json["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city", "parameters": WEATHER["parameters"]}}]
    second = client.responses.create(model="up/gpt-4o-mini", tools=[WEATHER], input=[
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21C"}])
    assert second.output_text == "It is sunny in Paris."
    assert upstream.requests[-1].json["messages"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_abc", "content": "sunny, 21C"}]


def test_stream_of_a_tool_call(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(chat_chunks(
        {"role": "assistant", "content": "Checking."},
        {"tool_calls": [{"index": 0, "id": "call_abc", "type": "function",
                         "function": {"name": "get_weather", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"location":'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": ' "Paris"}'}}]}, finish="tool_calls")))
    client = make_gateway(openai_config(upstream.url)).openai()
    with client.responses.stream(model="up/gpt-4o-mini", input="Weather?", tools=[WEATHER]) as events:
        seen = list(events)
        final = events.get_final_response()
    numbers = [e.sequence_number for e in seen]
    assert numbers == list(range(1, len(seen) + 1))
    kinds = [e.type for e in seen]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "response.function_call_arguments.delta" in kinds
    text, call = final.output
    assert text.content[0].text == "Checking."
    assert call.name == "get_weather" and json.loads(call.arguments) == {"location": "Paris"}
    assert final.usage.input_tokens == 9 and final.usage.output_tokens == 4


def test_json_schema_output(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(chat_answer('{"name": "Paris"}')))
    client = make_gateway(openai_config(upstream.url)).openai()
    response = client.responses.create(model="up/gpt-4o-mini", input="A city", text={"format": SCHEMA})
    assert json.loads(response.output_text) == {"name": "Paris"}
    assert upstream.requests[-1].json["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "city", "schema": SCHEMA["schema"], "strict": True}}


def test_namespace_tools_are_flattened_and_mapped_back(make_gateway, upstream: FakeUpstream) -> None:
    flat_call = {"id": "call_ns", "type": "function",
                 "function": {"name": "agents__spawn", "arguments": "{}"}}
    upstream.always(reply(chat_answer(None, [flat_call])))
    gateway = make_gateway(openai_config(upstream.url))
    import httpx

    answer = httpx.post(gateway.base_url + "/responses", json={
        "model": "up/gpt-4o-mini", "input": "go",
        "tools": [{"type": "namespace", "name": "agents", "description": "Agents",
                   "tools": [{"type": "function", "name": "spawn", "parameters": {"type": "object"}}]},
                  {"type": "web_search"}]})
    assert answer.status_code == 200
    assert answer.headers["x-llmp-dropped-tools"] == "web_search"
    (item,) = answer.json()["output"]
    assert item["name"] == "spawn" and item["namespace"] == "agents"
    assert [t["function"]["name"] for t in upstream.requests[-1].json["tools"]] == ["agents__spawn"]


def test_failure_midway_ends_with_response_failed(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(chat_chunks({"content": "Hel"}, {"content": "lo"})[:2], drop_after=1))
    client = make_gateway(openai_config(upstream.url)).openai()
    with client.responses.stream(model="up/gpt-4o-mini", input="hi") as events:
        kinds = [e.type for e in events]
    assert kinds[-1] == "response.failed"
    assert "response.completed" not in kinds


def test_bad_input_is_a_400_in_openai_shape(make_gateway, upstream: FakeUpstream) -> None:
    client = make_gateway(openai_config(upstream.url)).openai()
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="up/gpt-4o-mini", input=[{"type": "message", "role": "robot",
                                                                 "content": "x"}])
    assert caught.value.body["param"] == "input[0].role"
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="up/gpt-4o-mini", input="x", tools=[{"type": "function"}])
    assert upstream.count() == 0


# -- Anthropic upstream ---------------------------------------------------------------

CLAUDE = "claude/claude-sonnet-4-5-20250929"


def test_anthropic_tool_call_and_round_trip(make_gateway, upstream: FakeUpstream) -> None:
    upstream.then(reply(anthropic_load("response_tool_use.json")),
                  reply(anthropic_load("response_text.json")))
    client = make_gateway(anthropic_config(upstream.url)).openai()
    first = client.responses.create(model=CLAUDE, input="Weather?", tools=[WEATHER], instructions="Be brief")
    text, call = first.output
    assert text.content[0].text.startswith("I'll check")
    assert call.name == "get_weather" and json.loads(call.arguments)["location"] == "San Francisco, CA"
    sent = upstream.requests[-1].json
    assert sent["system"] in ("Be brief", [{"type": "text", "text": "Be brief"}])
    assert sent["tools"][0]["name"] == "get_weather"
    second = client.responses.create(model=CLAUDE, tools=[WEATHER], input=[
        {"role": "user", "content": "Weather?"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "15C"}])
    assert second.output_text == "Hello! How can I help you today?"
    user_turn = upstream.requests[-1].json["messages"][-1]
    assert user_turn["content"][0]["type"] == "tool_result"
    assert user_turn["content"][0]["tool_use_id"] == call.call_id


def test_anthropic_stream_and_json_schema(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(anthropic_events("stream_tool_use.sse")))
    client = make_gateway(anthropic_config(upstream.url)).openai()
    with client.responses.stream(model=CLAUDE, input="Weather?", tools=[WEATHER],
                                 text={"format": SCHEMA}) as events:
        kinds = [e.type for e in events]
        final = events.get_final_response()
    assert kinds[-1] == "response.completed" and "response.output_text.delta" in kinds
    assert final.output[-1].name == "get_weather"
    assert json.loads(final.output[-1].arguments)["unit"] == "fahrenheit"
    assert upstream.requests[-1].json["output_config"]["format"]["schema"] == SCHEMA["schema"]


# -- Gemini upstream ------------------------------------------------------------------


def test_gemini_function_calls_and_text(make_gateway, upstream: FakeUpstream) -> None:
    upstream.then(reply(gemini_load("function_call_response.json")), reply(gemini_load("text_response.json")))
    client = make_gateway(gemini_config(upstream.url)).openai()
    first = client.responses.create(model="gemini/gemini-2.5-flash", input="Weather and time?",
                                    tools=[WEATHER], text={"format": SCHEMA})
    assert [item.name for item in first.output] == ["get_weather", "get_time"]
    assert upstream.requests[-1].json["generationConfig"]["responseJsonSchema"] == SCHEMA["schema"]
    call = first.output[0]
    second = client.responses.create(model="gemini/gemini-2.5-flash", tools=[WEATHER], input=[
        {"role": "user", "content": "Weather?"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "15C"}])
    assert second.output_text.startswith("The sky looks blue")
    parts = [p for c in upstream.requests[-1].json["contents"] for p in c["parts"]]
    assert any("functionResponse" in p for p in parts)


def test_gemini_stream(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(gemini_events("stream_text.sse")))
    client = make_gateway(gemini_config(upstream.url)).openai()
    with client.responses.stream(model="gemini/gemini-2.5-flash", input="A joke") as events:
        final = events.get_final_response()
    assert final.output_text.startswith("Why did the scarecrow")


# -- stored responses: previous_response_id, retrieve, delete ------------------------

PROVIDERS = {  # config, model, a plain answer, a streamed answer, the turns an upstream request holds
    "openai": (openai_config, "up/gpt-4o-mini", reply(chat_answer("Bonjour")),
               stream(chat_chunks({"content": "Salut"})), lambda sent: sent["messages"]),
    "anthropic": (anthropic_config, CLAUDE, reply(anthropic_load("response_text.json")),
                  stream(anthropic_events("stream_text.sse")), lambda sent: sent["messages"]),
    "gemini": (gemini_config, "gemini/gemini-2.5-flash", reply(gemini_load("text_response.json")),
               stream(gemini_events("stream_text.sse")), lambda sent: sent["contents"]),
}


@pytest.mark.parametrize("kind", sorted(PROVIDERS))
def test_previous_response_id_expands_the_stored_conversation(
    kind: str, make_gateway, upstream: FakeUpstream
) -> None:
    make_config, model, answer, streamed, turns = PROVIDERS[kind]
    upstream.then(answer, streamed, answer)
    client = make_gateway(make_config(upstream.url)).openai()
    first = client.responses.create(model=model, input="First question")
    with client.responses.stream(model=model, input="Second question",
                                 previous_response_id=first.id) as events:
        second = events.get_final_response()
    sent = turns(upstream.requests[-1].json)
    assert len(sent) == 3  # the first question, its answer, the second question
    assert "First question" in json.dumps(sent[0]) and "Second question" in json.dumps(sent[2])
    assert json.dumps(first.output_text)[1:-1] in json.dumps(sent[1])
    assert second.previous_response_id == first.id
    third = client.responses.create(model=model, input="Third", previous_response_id=second.id)
    sent = turns(upstream.requests[-1].json)
    assert len(sent) == 5 and json.dumps(second.output_text)[1:-1] in json.dumps(sent[3])
    assert third.status == "completed"


def test_retrieve_delete_and_unknown_ids(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(chat_answer("Bonjour")))
    client = make_gateway(openai_config(upstream.url)).openai()
    kept = client.responses.create(model="up/gpt-4o-mini", input="hi")
    assert client.responses.retrieve(kept.id).output_text == "Bonjour"
    client.responses.delete(kept.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(kept.id)
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="up/gpt-4o-mini", input="x", previous_response_id=kept.id)
    assert caught.value.body["code"] == "previous_response_not_found"
    assert caught.value.body["param"] == "previous_response_id"
    unstored = client.responses.create(model="up/gpt-4o-mini", input="hi", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unstored.id)
    store = next(Path(os.environ["LLMP_HOME"]).rglob("responses.sqlite3"))
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert b"sk-test-upstream-key" not in store.read_bytes()


def test_unsupported_tools_can_be_refused(make_gateway, upstream: FakeUpstream) -> None:
    refuse = "server:\n  responses:\n    unsupported_tools: reject\n"
    gateway = make_gateway(openai_config(upstream.url, refuse))
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.openai().responses.create(model="up/gpt-4o-mini", input="x",
                                          tools=[WEATHER, {"type": "web_search"}])
    assert "web_search" in caught.value.message and caught.value.body["param"] == "tools"
    assert upstream.count() == 0


def test_streamed_reasoning_becomes_a_reasoning_summary(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(anthropic_events("stream_thinking_tool_use.sse")))
    client = make_gateway(anthropic_config(upstream.url)).openai()
    with client.responses.stream(model=CLAUDE, input="Weather?", tools=[WEATHER],
                                 reasoning={"effort": "medium", "summary": "auto"}) as events:
        seen = list(events)
        final = events.get_final_response()
    deltas = "".join(e.delta for e in seen if e.type == "response.reasoning_summary_text.delta")
    reasoning = final.output[0]
    assert reasoning.type == "reasoning" and deltas and reasoning.summary[0].text == deltas
    assert final.output[-1].type == "function_call"
    assert upstream.requests[-1].json["thinking"]["type"] == "enabled"


# -- Cohere and mock: the same translation ----------------------------------------------


def test_cohere_and_mock_answer_and_stream(make_gateway, upstream: FakeUpstream) -> None:
    upstream.then(reply(fixture_json("chat_response.json")), stream(sse_events("stream_text.sse")))
    with_mock = cohere_config(upstream.url) + "  mock:\n    type: mock\n    models: [mock-1]\n"
    client = make_gateway(with_mock).openai()
    plain = client.responses.create(model="co/command-a-03-2025", input="hi", instructions="Be brief")
    assert plain.output_text and plain.usage.input_tokens > 0
    assert upstream.requests[-1].json["messages"][0] == {"role": "system", "content": "Be brief"}
    with client.responses.stream(model="co/command-a-03-2025", input="hi") as events:
        assert events.get_final_response().output_text
    echoed = client.responses.create(model="mock/mock-1", input=[
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "echo this"}]}])
    assert echoed.output_text == "echo this"
