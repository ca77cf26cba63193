"""Cohere translation both ways, checked against golden fixtures in Cohere's wire format."""

from __future__ import annotations

import base64
import json
import logging
import struct

import pytest

from llmp.daemon.errors import ClientError, ErrorKind, UpstreamError
from llmp.daemon.providers.cohere_stream import StreamTranslator
from llmp.daemon.providers.cohere_wire import (
    chat_request,
    chat_response,
    embed_request,
    embed_response,
)
from llmp.daemon.providers.sse import SSEDecoder
from tests.support.golden import Golden

GOLDEN = Golden("cohere")
load = GOLDEN.json


def events(name: str) -> list[dict]:
    """The transcript's events as the adapter's SSE decoder reads them."""
    decoded = SSEDecoder().feed(GOLDEN.bytes(name))
    return [json.loads(e.data) for e in decoded if e.data != b"[DONE]"]


def test_openai_request_becomes_the_cohere_body() -> None:
    request = load("chat_request_openai.json")
    assert chat_request(request, "command-a-03-2025") == load("chat_request_cohere.json")


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"n": 2}, "n"),
        ({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
         "messages[0].content"),
        ({"messages": [{"role": "function", "name": "f", "content": "x"}]}, "messages[0].role"),
        ({"tools": [{"type": "code_interpreter"}]}, "tools[0]"),
        ({"tool_choice": {"type": "function", "function": {"name": "missing"}}}, "tool_choice"),
        ({"response_format": {"type": "grammar"}}, "response_format"),
        ({"logit_bias": {"1734": -100}}, "logit_bias"),
    ],
)
def test_requests_cohere_cannot_honour_are_refused(change: dict, param: str) -> None:
    request = {"messages": [{"role": "user", "content": "hi"}], **change}
    with pytest.raises(ClientError) as caught:
        chat_request(request, "command-a-03-2025")
    assert caught.value.status == 400
    assert caught.value.param == param


@pytest.mark.parametrize(("top_p", "p"), [(1, 0.99), (0.5, 0.5), (0, 0.01)])
def test_top_p_becomes_p_within_cohere_range(top_p: float, p: float) -> None:
    body = chat_request({"messages": [{"role": "user", "content": "x"}], "top_p": top_p}, "m")
    assert body["p"] == p


def test_strict_function_becomes_strict_tools() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"},
                                             "strict": True}}
    body = chat_request({"messages": [{"role": "user", "content": "x"}], "tools": [tool]}, "m")
    assert body["tools"] == [{"type": "function", "function": {"name": "f",
                                                               "parameters": {"type": "object"}}}]
    assert body["strict_tools"] is True


def test_named_tool_choice_keeps_only_that_tool_and_requires_it() -> None:
    tools = [{"type": "function", "function": {"name": name, "parameters": {}}} for name in "ab"]
    body = chat_request({"messages": [{"role": "user", "content": "x"}], "tools": tools,
                         "tool_choice": {"type": "function", "function": {"name": "b"}}}, "m")
    assert [t["function"]["name"] for t in body["tools"]] == ["b"]
    assert body["tool_choice"] == "REQUIRED"
    none = chat_request({"messages": [{"role": "user", "content": "x"}], "tools": tools,
                         "tool_choice": "none"}, "m")
    assert none["tool_choice"] == "NONE"


def test_text_answer() -> None:
    answer = chat_response(load("chat_response.json"), "command-a-03-2025", "co")
    choice = answer["choices"][0]
    assert answer["id"] == "c14c80c3-18eb-4519-9460-6c92edd8cfb4"
    assert answer["object"] == "chat.completion"
    assert choice["message"]["content"].startswith("LLMs stand for Large Language Models")
    assert choice["finish_reason"] == "stop"
    assert answer["usage"] == {"prompt_tokens": 5, "completion_tokens": 16, "total_tokens": 21,
                               "prompt_tokens_details": {"cached_tokens": 64}}


def test_tool_call_answer_carries_the_plan_as_content() -> None:
    answer = chat_response(load("chat_response_tool_call.json"), "command-a-03-2025", "co")
    message = answer["choices"][0]["message"]
    assert message["content"] == "I will find the weather in Toronto and Paris."
    assert [c["id"] for c in message["tool_calls"]] == ["get_weather_1byjy32y4hvq",
                                                        "get_weather_9x0rd2k4mnq1"]
    assert json.loads(message["tool_calls"][1]["function"]["arguments"]) == {"location": "Paris"}
    assert answer["choices"][0]["finish_reason"] == "tool_calls"


def test_toxic_answer_is_content_filter_and_error_is_an_error() -> None:
    toxic = chat_response(load("chat_response_toxic.json"), "m", "co")
    assert toxic["choices"][0]["finish_reason"] == "content_filter"
    failed = {**load("chat_response.json"), "finish_reason": "ERROR"}
    with pytest.raises(UpstreamError) as caught:
        chat_response(failed, "m", "co")
    assert caught.value.kind is ErrorKind.SERVER_ERROR


def test_assistant_reply_round_trips_to_the_cohere_history() -> None:
    answer = chat_response(load("chat_response_tool_call.json"), "m", "co")
    history = chat_request({"messages": [answer["choices"][0]["message"]]}, "m")["messages"][0]
    original = load("chat_response_tool_call.json")["message"]
    assert history == {"role": "assistant", "tool_calls": original["tool_calls"],
                       "tool_plan": original["tool_plan"]}


def translate(name: str, include_usage: bool = True) -> tuple[StreamTranslator, list[dict]]:
    translator = StreamTranslator("command-a-03-2025", "co", include_usage)
    chunks = [chunk for event in events(name) for chunk in translator.translate(event)]
    return translator, chunks


def test_stream_of_text_in_order_with_usage() -> None:
    translator, chunks = translate("stream_text.sse")
    assert translator.finished
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert {c["id"] for c in chunks} == {"c14c80c3-18eb-4519-9460-6c92edd8cfb4"}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "The tallest penguins are emperor penguins."
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == 31


def test_stream_of_tool_calls_puts_id_and_name_first() -> None:
    _, chunks = translate("stream_tool_call.sse", include_usage=False)
    calls: dict[int, dict] = {}
    for chunk in chunks:
        for delta in chunk["choices"][0]["delta"].get("tool_calls", []):
            call = calls.setdefault(delta["index"], {"arguments": ""})
            if "id" in delta:
                assert call == {"arguments": ""}, "id and name come in the first delta"
                call.update(id=delta["id"], name=delta["function"]["name"])
            call["arguments"] += delta["function"]["arguments"]
    assert [calls[i]["id"] for i in (0, 1)] == ["get_weather_776n8ctsgycn", "get_weather_8hqkf9ch5r3z"]
    assert json.loads(calls[0]["arguments"]) == {"location": "Toronto, Canada", "unit": "celsius"}
    assert json.loads(calls[1]["arguments"]) == {"location": "Paris"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert all(c.get("usage") is None for c in chunks)


def test_stream_of_thinking_then_text() -> None:
    _, chunks = translate("stream_thinking.sse")
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert {"reasoning_content": "The user greets me."} in deltas
    assert {"content": "Hello"} in deltas
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"


def test_tool_call_that_streams_no_arguments_gets_an_empty_object() -> None:
    translator = StreamTranslator("m", "co", include_usage=False)
    start = {"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": {
        "id": "snooze_q1w2e3r4t5y6", "type": "function",
        "function": {"name": "snooze", "arguments": ""}}}}}
    chunks = translator.translate(start) + translator.translate({"type": "tool-call-end", "index": 0})
    deltas = [d for c in chunks for d in c["choices"][0]["delta"]["tool_calls"]]
    assert "".join(d["function"]["arguments"] for d in deltas) == "{}"
    assert deltas[0]["id"] == "snooze_q1w2e3r4t5y6"
    _, streamed = translate("stream_tool_call.sse", include_usage=False)
    assert len([c for c in streamed if c["choices"][0]["delta"].get("tool_calls")]) == 2 + 10 + 5


def test_unused_parameters_are_dropped_with_a_debug_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="llmp.providers.cohere")
    body = chat_request({"messages": [{"role": "user", "content": "x"}], "user": "u-1",
                         "parallel_tool_calls": False, "logit_bias": {}}, "m")
    assert set(body) == {"model", "messages"}
    assert "'user'" in caplog.text and "'parallel_tool_calls'" in caplog.text


def test_stream_failing_at_message_end_raises() -> None:
    with pytest.raises(UpstreamError) as caught:
        translate("stream_error.sse")
    assert caught.value.kind is ErrorKind.SERVER_ERROR


def test_embeddings_both_ways() -> None:
    body = embed_request({"model": "x", "input": ["hello", "goodbye"]}, "embed-v4.0")
    assert body == load("embed_request.json")
    assert embed_request({"input": "q", "input_type": "search_query", "dimensions": 256}, "m") == {
        "model": "m", "texts": ["q"], "input_type": "search_query",
        "embedding_types": ["float"], "output_dimension": 256}
    with pytest.raises(ClientError):
        embed_request({"input": [[1, 2, 3]]}, "m")
    floats = embed_response(load("embed_response.json"), "embed-v4.0", "float")
    assert floats["data"][1]["embedding"] == [0.025787354, -0.0035171509, -0.022644043, -0.078125]
    assert floats["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    packed = embed_response(load("embed_response.json"), "embed-v4.0", "base64")
    raw = base64.b64decode(packed["data"][0]["embedding"])
    assert struct.unpack("<4f", raw) == pytest.approx([0.016296387, -0.008354187, -0.04699707, -0.07104492])
