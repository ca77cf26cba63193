"""The Gemini adapter's translations, checked against golden fixtures in Gemini's wire format."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from llmp.daemon.errors import ClientError, ErrorKind
from llmp.daemon.providers.gemini_errors import parse_google_error
from llmp.daemon.providers.gemini_request import SKIP_SIGNATURE, build_request
from llmp.daemon.providers.gemini_response import StreamTranslator, chat_response
from tests.daemon.gemini_fixtures import load, sse


def no_signature(call_id: str) -> str | None:
    return None


def translate(request: dict[str, Any], model: str = "gemini-2.5-flash") -> dict[str, Any]:
    return build_request(request, model, no_signature)  # type: ignore[arg-type]


def user(text: str = "hi") -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def test_multi_turn_request_with_tools_images_and_schema_matches_golden_body() -> None:
    golden = load("request_multiturn_tools.json")
    assert translate(golden["openai"]) == golden["gemini"]


def test_signature_remembered_by_id_when_the_client_dropped_extra_content() -> None:
    messages = [
        *user("weather?"),
        {"role": "assistant", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "a", "arguments": "{}"}},
            {"id": "call_2", "type": "function", "function": {"name": "b", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "1"},
        {"role": "tool", "tool_call_id": "call_2", "content": "2"},
    ]
    known = {"call_2": "SIG-B"}
    body = build_request({"messages": messages}, "gemini-3-pro", known.get)  # type: ignore[typeddict-item]
    first, second = body["contents"][1]["parts"]
    # Gemini 3 requires a signature on the first call of a turn; Google documents a stand-in.
    assert first["thoughtSignature"] == SKIP_SIGNATURE
    assert second["thoughtSignature"] == "SIG-B"
    older = build_request({"messages": messages}, "gemini-2.5-flash", known.get)  # type: ignore[typeddict-item]
    assert "thoughtSignature" not in older["contents"][1]["parts"][0]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"max_tokens": 64}, {"maxOutputTokens": 64}),
        ({"stop": "###"}, {"stopSequences": ["###"]}),
        ({"n": 3, "presence_penalty": 0.5}, {"candidateCount": 3, "presencePenalty": 0.5}),
        ({"top_k": 40, "frequency_penalty": 0.1}, {"topK": 40, "frequencyPenalty": 0.1}),
        ({"response_format": {"type": "json_object"}}, {"responseMimeType": "application/json"}),
        ({"response_format": {"type": "text"}}, None),
        ({"reasoning_effort": "low"}, {"thinkingConfig": {"thinkingBudget": 1024,
                                                          "includeThoughts": True}}),
        ({"reasoning_effort": "none"}, {"thinkingConfig": {"thinkingBudget": 0,
                                                           "includeThoughts": False}}),
    ],
)
def test_parameters_map_to_generation_config(extra: dict, expected: dict | None) -> None:
    assert translate({"messages": user(), **extra}).get("generationConfig") == expected


def test_gemini_3_gets_a_thinking_level() -> None:
    body = translate({"messages": user(), "reasoning_effort": "high"}, "gemini-3-pro-preview")
    assert body["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "high",
                                                          "includeThoughts": True}


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        ({"type": "function", "function": {"name": "b"}},
         {"mode": "ANY", "allowedFunctionNames": ["b"]}),
        ({"type": "allowed_tools", "allowed_tools": {
            "mode": "required", "tools": [{"type": "function", "function": {"name": "a"}}]}},
         {"mode": "ANY", "allowedFunctionNames": ["a"]}),
    ],
)
def test_tool_choice_modes(choice: Any, config: dict) -> None:
    tools = [{"type": "function", "function": {"name": n}} for n in ("a", "b")]
    body = translate({"messages": user(), "tools": tools, "tool_choice": choice})
    assert body["toolConfig"] == {"functionCallingConfig": config}


def test_allowed_tools_in_auto_mode_keeps_only_those_declarations() -> None:
    tools = [{"type": "function", "function": {"name": n}} for n in ("a", "b")]
    choice = {"type": "allowed_tools", "allowed_tools": {
        "mode": "auto", "tools": [{"type": "function", "function": {"name": "b"}}]}}
    body = translate({"messages": user(), "tools": tools, "tool_choice": choice})
    assert body["tools"] == [{"functionDeclarations": [{"name": "b"}]}]
    assert "toolConfig" not in body


@pytest.mark.parametrize(
    ("request_extra", "param"),
    [
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0]"),
        ({"response_format": {"type": "json_schema"}}, "response_format"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"messages": [*user(), {"role": "tool", "tool_call_id": "call_x", "content": "1"}]},
         "messages[1].tool_call_id"),
        ({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]}]},
         "messages[0].content[0]"),
        ({"messages": [{"role": "assistant", "tool_calls": [
            {"id": "c", "function": {"name": "f", "arguments": "{not json"}}]}]},
         "messages[0].tool_calls[0]"),
        ({"messages": [{"role": "user", "content": ""}]}, "messages"),
    ],
)
def test_what_would_change_the_meaning_is_refused(request_extra: dict, param: str) -> None:
    with pytest.raises(ClientError) as caught:
        translate({"messages": user(), **request_extra})
    assert caught.value.status == 400
    assert caught.value.param == param


def test_harmless_parameters_are_dropped_with_a_debug_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="llmp.providers.gemini")
    body = translate({"messages": user(), "user": "u1", "store": True, "metadata": {"a": "b"},
                      "parallel_tool_calls": False, "logprobs": True})
    assert body == {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    assert "dropped parameter 'parallel_tool_calls'" in caplog.text
    assert "dropped parameter 'user'" in caplog.text


def test_legacy_functions_and_function_messages() -> None:
    body = translate({
        "functions": [{"name": "lookup", "parameters": {"type": "object"}}],
        "function_call": {"name": "lookup"},
        "messages": [*user("find x"),
                     {"role": "assistant", "content": None,
                      "function_call": {"name": "lookup", "arguments": "{\"q\": \"x\"}"}},
                     {"role": "function", "name": "lookup", "content": "found"}],
    })
    assert body["tools"] == [{"functionDeclarations": [
        {"name": "lookup", "parametersJsonSchema": {"type": "object"}}]}]
    assert body["toolConfig"] == {"functionCallingConfig": {
        "mode": "ANY", "allowedFunctionNames": ["lookup"]}}
    assert body["contents"][1:] == [
        {"role": "model", "parts": [{"functionCall": {"name": "lookup", "args": {"q": "x"}}}]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "lookup", "response": {"result": "found"}}}]},
    ]


def test_text_response() -> None:
    answer = chat_response(load("text_response.json"), "gemini-2.0-flash", lambda i, s: None)
    choice = answer["choices"][0]
    assert choice["message"]["content"].startswith("The sky looks blue")
    assert choice["finish_reason"] == "stop"
    assert answer["usage"] == {"prompt_tokens": 14, "completion_tokens": 21, "total_tokens": 35}
    assert answer["id"] == "chatcmpl-7tYKaMG8Bqm_nvgPkr2xwAk"
    assert answer["model"] == "gemini-2.0-flash"


def test_function_call_response_gets_ids_and_keeps_the_signature() -> None:
    remembered: dict[str, str] = {}
    answer = chat_response(load("function_call_response.json"), "m", remembered.__setitem__)
    choice = answer["choices"][0]
    calls = choice["message"]["tool_calls"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"city": "Paris", "unit": "celsius"}
    assert all(c["id"].startswith("call_") for c in calls) and calls[0]["id"] != calls[1]["id"]
    signature = load("function_call_response.json")["candidates"][0]["content"]["parts"][0][
        "thoughtSignature"]
    assert calls[0]["extra_content"] == {"google": {"thought_signature": signature}}
    assert remembered == {calls[0]["id"]: signature}
    assert answer["usage"]["completion_tokens"] == 31 + 76
    assert answer["usage"]["completion_tokens_details"] == {"reasoning_tokens": 76}


@pytest.mark.parametrize(
    ("fixture", "finish"),
    [("prompt_blocked_response.json", "content_filter"),
     ("candidate_safety_response.json", "content_filter"),
     ("max_tokens_response.json", "length")],
)
def test_finish_reasons(fixture: str, finish: str) -> None:
    answer = chat_response(load(fixture), "m", lambda i, s: None)
    assert answer["choices"][0]["finish_reason"] == finish


def test_thoughts_become_reasoning_content_and_cached_tokens_are_counted() -> None:
    answer = chat_response(load("thoughts_response.json"), "m", lambda i, s: None)
    message = answer["choices"][0]["message"]
    assert message["content"] == "17 + 25 = 42."
    assert message["reasoning_content"].startswith("**Working out the sum**")
    assert answer["usage"]["prompt_tokens_details"] == {"cached_tokens": 2048}
    assert answer["usage"]["prompt_tokens"] == 2059  # cached tokens are part of the prompt
    assert answer["usage"]["total_tokens"] == 2158


def _stream(name: str) -> tuple[StreamTranslator, list[dict[str, Any]]]:
    translator = StreamTranslator("m", lambda i, s: None)
    chunks = []
    for block in sse(name).replace(b"\r\n", b"\n").split(b"\n\n"):
        if block.startswith(b"data: "):
            chunks += translator.feed(json.loads(block[6:]))
    return translator, chunks


def test_streamed_function_calls_arrive_whole_with_ids_in_order() -> None:
    translator, chunks = _stream("stream_function_call.sse")
    calls = [c for chunk in chunks for c in chunk["choices"][0]["delta"].get("tool_calls", [])]
    assert [c["index"] for c in calls] == [0, 1]
    assert [c["function"]["name"] for c in calls] == ["search_flights", "get_exchange_rate"]
    assert json.loads(calls[0]["function"]["arguments"])["passengers"][1] == {"name": "Grace",
                                                                             "age": 7}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert translator.complete
    assert translator.usage_chunk()["usage"]["completion_tokens"] == 58 + 67


def test_stream_without_finish_reason_is_not_complete() -> None:
    translator, chunks = _stream("stream_error_midway.sse")
    assert [c["choices"][0]["delta"].get("content") for c in chunks] == [
        "Here is the first part of a long", " answer that will not"]
    assert not translator.complete


@pytest.mark.parametrize(
    ("fixture", "status", "kind", "retry"),
    [
        ("error_rate_limited.json", 429, ErrorKind.RATE_LIMITED, 34.0),
        ("error_api_key_invalid.json", 400, ErrorKind.AUTH, None),
        ("error_context_length.json", 400, ErrorKind.CONTEXT_LENGTH, None),
        ("error_invalid_argument.json", 400, ErrorKind.BAD_REQUEST, None),
        ("error_overloaded.json", 503, ErrorKind.OVERLOADED, None),
        ("error_not_found.json", 404, ErrorKind.NOT_FOUND, None),
        ("error_permission_denied.json", 403, ErrorKind.AUTH, None),
        ("error_unauthenticated.json", 401, ErrorKind.AUTH, None),
        ("error_failed_precondition.json", 400, ErrorKind.AUTH, None),
    ],
)
def test_google_errors_are_classified(fixture: str, status: int, kind: ErrorKind,
                                      retry: float | None) -> None:
    body = load(fixture)
    error = parse_google_error(status, json.dumps(body).encode())
    assert (error.status, error.kind, error.retry_after) == (status, kind, retry)
    assert error.message == body["error"]["message"]
    assert error.code == body["error"]["status"]
