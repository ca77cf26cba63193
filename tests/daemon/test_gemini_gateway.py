"""An OpenAI client talking to Gemini through the gateway: golden Gemini answers replayed
by a fake upstream, the official `openai` SDK on the other side."""

from __future__ import annotations

import asyncio
import json
import logging
import threading

import httpx
import openai
import pytest
from aiohttp import web

from tests.daemon.gemini_fixtures import API_KEY, events, gemini_config, load
from tests.support.fake_upstream import FakeUpstream, fail, reply, stream

WEATHER_TOOLS = [{"type": "function", "function": {
    "name": "search_flights", "parameters": {"type": "object", "properties": {}}}}]


def test_chat_goes_to_generate_content_with_the_key_in_a_header(
    make_gateway, upstream: FakeUpstream
) -> None:
    upstream.always(reply(load("text_response.json")))
    client = make_gateway(gemini_config(upstream.url)).openai()
    answer = client.chat.completions.create(
        model="gemini/gemini-2.0-flash", max_tokens=100, temperature=0.5,
        messages=[{"role": "system", "content": "Be brief."},
                  {"role": "user", "content": "Why is the sky blue?"}],
    )
    assert answer.choices[0].message.content.startswith("The sky looks blue")
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage.total_tokens == 35
    sent = upstream.requests[-1]
    assert sent.path == "/v1beta/models/gemini-2.0-flash:generateContent"
    assert sent.headers["x-goog-api-key"] == API_KEY
    assert API_KEY not in sent.path and not sent.query
    assert "Authorization" not in sent.headers
    assert sent.json == {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": "Why is the sky blue?"}]}],
        "generationConfig": {"maxOutputTokens": 100, "temperature": 0.5},
    }


def test_stream_with_usage(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(events("stream_text.sse")))
    client = make_gateway(gemini_config(upstream.url)).openai()
    parts, usage, finish = [], None, None
    for event in client.chat.completions.create(
        model="gemini-2.0-flash", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Tell me a joke"}],
    ):
        for choice in event.choices:
            parts.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
        usage = event.usage or usage
    assert "".join(parts) == (
        "Why did the scarecrow win an award? Because he was outstanding in his field.\n")
    assert finish == "stop"
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (9, 17)
    sent = upstream.requests[-1]
    assert sent.path == "/v1beta/models/gemini-2.0-flash:streamGenerateContent"
    assert sent.query == {"alt": "sse"}


def test_streamed_tool_call_round_trip_keeps_ids_arguments_and_signature(
    make_gateway, upstream: FakeUpstream
) -> None:
    upstream.then(stream(events("stream_function_call.sse")), reply(load("text_response.json")))
    client = make_gateway(gemini_config(upstream.url)).openai()
    calls: dict[int, dict] = {}
    finish = None
    for event in client.chat.completions.create(
        model="gemini/gemini-2.5-flash", stream=True, tools=WEATHER_TOOLS,
        messages=[{"role": "user", "content": "Flights for Ada and Grace to Tokyo?"}],
    ):
        choice = event.choices[0]
        finish = choice.finish_reason or finish
        for delta in choice.delta.tool_calls or []:
            call = calls.setdefault(delta.index, {"id": delta.id, "name": delta.function.name,
                                                  "arguments": ""})
            call["arguments"] += delta.function.arguments or ""
    assert finish == "tool_calls"
    original = [json.loads(block[6:]) for block in events("stream_function_call.sse")][:2]
    for index, event in enumerate(original):
        part = event["candidates"][0]["content"]["parts"][0]["functionCall"]
        assert calls[index]["id"].startswith("call_")
        assert calls[index]["name"] == part["name"]
        assert json.loads(calls[index]["arguments"]) == part["args"]
    assert calls[0]["id"] != calls[1]["id"]

    # The client sends the results back without any Gemini-specific field.
    client.chat.completions.create(
        model="gemini/gemini-2.5-flash", tools=WEATHER_TOOLS,
        messages=[
            {"role": "user", "content": "Flights for Ada and Grace to Tokyo?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": c["id"], "type": "function",
                 "function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in calls.values()]},
            {"role": "tool", "tool_call_id": calls[1]["id"], "content": "{\"rate\": 161.2}"},
            {"role": "tool", "tool_call_id": calls[0]["id"], "content": "no flights"},
        ],
    )
    turns = upstream.requests[-1].json["contents"]
    signature = original[0]["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
    assert turns[1]["role"] == "model"
    assert turns[1]["parts"][0]["thoughtSignature"] == signature
    assert turns[2] == {"role": "user", "parts": [
        {"functionResponse": {"name": "get_exchange_rate", "response": {"rate": 161.2}}},
        {"functionResponse": {"name": "search_flights", "response": {"result": "no flights"}}},
    ]}


def test_streamed_thoughts_are_reasoning_content(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(events("stream_thoughts.sse")))
    client = make_gateway(gemini_config(upstream.url)).openai()
    reasoning, content = "", ""
    for event in client.chat.completions.create(
        model="gemini-2.5-pro", stream=True, reasoning_effort="high",
        messages=[{"role": "user", "content": "9.11 or 9.9?"}],
    ):
        delta = event.choices[0].delta
        reasoning += (delta.model_extra or {}).get("reasoning_content") or ""
        content += delta.content or ""
    assert reasoning.startswith("**Comparing the numbers**")
    assert content == "9.9 is larger than 9.11."
    assert upstream.requests[-1].json["generationConfig"] == {
        "thinkingConfig": {"thinkingBudget": 24576, "includeThoughts": True}}


def test_tool_call_without_streaming(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(load("function_call_response.json")))
    client = make_gateway(gemini_config(upstream.url)).openai()
    answer = client.chat.completions.create(
        model="gemini-2.5-flash", tools=WEATHER_TOOLS, tool_choice="required",
        messages=[{"role": "user", "content": "weather and time in Paris?"}],
    )
    calls = answer.choices[0].message.tool_calls
    assert answer.choices[0].finish_reason == "tool_calls"
    assert [json.loads(c.function.arguments) for c in calls] == [
        {"city": "Paris", "unit": "celsius"}, {"timezone": "Europe/Paris"}]
    assert upstream.requests[-1].json["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}


def test_thoughts_and_blocked_prompts(make_gateway, upstream: FakeUpstream) -> None:
    upstream.then(reply(load("thoughts_response.json")), reply(load("prompt_blocked_response.json")))
    client = make_gateway(gemini_config(upstream.url)).openai()
    thought = client.chat.completions.create(
        model="gemini-2.5-pro", reasoning_effort="medium",
        messages=[{"role": "user", "content": "17 + 25?"}])
    assert thought.choices[0].message.content == "17 + 25 = 42."
    assert thought.choices[0].message.reasoning_content.startswith("**Working out the sum**")
    # Gemini's promptTokenCount includes the cached tokens, as OpenAI's prompt_tokens does;
    # thoughts are counted apart by Gemini and inside completion_tokens by OpenAI.
    assert thought.usage.prompt_tokens == 2059
    assert thought.usage.prompt_tokens_details.cached_tokens == 2048
    assert thought.usage.completion_tokens == 9 + 90
    assert thought.usage.completion_tokens_details.reasoning_tokens == 90
    assert thought.usage.total_tokens == 2158
    blocked = client.chat.completions.create(
        model="gemini-2.0-flash", messages=[{"role": "user", "content": "something bad"}])
    assert blocked.choices[0].finish_reason == "content_filter"


def test_streamed_safety_blocks_finish_with_content_filter(make_gateway, upstream: FakeUpstream) -> None:
    """A candidate stopped for safety mid-way, and a prompt blocked outright (Gemini then
    streams its one answer, promptFeedback and no candidates): both are content_filter,
    and both are finished streams ([DONE]), not errors."""
    blocked = json.dumps(load("prompt_blocked_response.json"), separators=(",", ":"))
    upstream.then(stream(events("stream_safety.sse")), stream([f"data: {blocked}\r\n\r\n"]))
    gateway = make_gateway(gemini_config(upstream.url))
    for expected_text in ("Here is how you would start: first,", ""):
        with httpx.stream("POST", gateway.base_url + "/chat/completions", json={
            "model": "gemini-2.0-flash", "stream": True,
            "messages": [{"role": "user", "content": "something bad"}],
        }) as response:
            lines = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
        assert lines[-1] == "[DONE]"
        chunks = [json.loads(line) for line in lines[:-1]]
        choices = [c for chunk in chunks for c in chunk["choices"]]
        assert "".join(c["delta"].get("content") or "" for c in choices) == expected_text
        assert [c["finish_reason"] for c in choices if c["finish_reason"]] == ["content_filter"]


def test_signature_on_text_goes_back_with_the_message(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(load("signed_text_response.json")))
    client = make_gateway(gemini_config(upstream.url)).openai()
    question = {"role": "user", "content": "Capital of France?"}
    answer = client.chat.completions.create(model="gemini/gemini-3-pro-preview",
                                            messages=[question])
    message = answer.choices[0].message
    # What agents do: append the message object as it came back.
    client.chat.completions.create(model="gemini/gemini-3-pro-preview", messages=[
        question, message.model_dump(exclude_none=True), {"role": "user", "content": "And Italy?"}])
    signature = load("signed_text_response.json")["candidates"][0]["content"]["parts"][0][
        "thoughtSignature"]
    assert upstream.requests[-1].json["contents"][1] == {"role": "model", "parts": [
        {"text": "Paris is the capital of France.", "thoughtSignature": signature}]}


def test_images_are_sent_inline(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(load("text_response.json")))
    client = make_gateway(gemini_config(upstream.url)).openai()
    client.chat.completions.create(model="gemini-2.0-flash", messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/webp;base64,UklGRg=="}}]}])
    assert upstream.requests[-1].json["contents"][0]["parts"][1] == {
        "inlineData": {"mimeType": "image/webp", "data": "UklGRg=="}}


@pytest.mark.parametrize(
    ("fixture", "status", "error_class"),
    [
        ("error_rate_limited.json", 429, openai.RateLimitError),
        ("error_api_key_invalid.json", 400, openai.BadRequestError),
        ("error_context_length.json", 400, openai.BadRequestError),
        ("error_not_found.json", 404, openai.NotFoundError),
        ("error_overloaded.json", 503, openai.InternalServerError),
        ("error_permission_denied.json", 403, openai.PermissionDeniedError),
    ],
)
def test_google_errors_keep_status_and_message(
    make_gateway, upstream: FakeUpstream, fixture: str, status: int, error_class: type
) -> None:
    body = load(fixture)
    upstream.always(fail(status, body))
    client = make_gateway(gemini_config(upstream.url)).openai()
    with pytest.raises(error_class) as caught:
        client.chat.completions.create(model="gemini-2.0-flash",
                                       messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == status
    assert caught.value.body["message"] == body["error"]["message"]
    assert caught.value.body["code"] == body["error"]["status"]
    assert API_KEY not in caught.value.response.text
    if status == 429:
        assert caught.value.response.headers["retry-after"] == "34"


FALLBACK = """
  mock:
    type: mock
    models: [mock-1]
models:
  smart: [gemini/gemini-2.0-flash, mock/mock-1]
defaults:
  retry: {attempts: 0}   # classification decides failover; retries are tested in test_failover
"""


@pytest.mark.parametrize(
    ("fixture", "status", "fails_over"),
    [("error_rate_limited.json", 429, True), ("error_overloaded.json", 503, True),
     ("error_failed_precondition.json", 400, True), ("error_api_key_invalid.json", 400, True),
     ("error_invalid_argument.json", 400, False)],
)
def test_gemini_failures_fail_over_unless_the_request_is_wrong(
    make_gateway, upstream: FakeUpstream, fixture: str, status: int, fails_over: bool
) -> None:
    upstream.always(fail(status, load(fixture)))
    client = make_gateway(gemini_config(upstream.url, FALLBACK)).openai()
    request = {"model": "smart", "messages": [{"role": "user", "content": "ping"}]}
    if fails_over:
        response = client.chat.completions.with_raw_response.create(**request)
        assert response.headers["x-llmp-provider"] == "mock"
        assert response.parse().choices[0].message.content == "ping"
    else:
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(**request)
    assert len(upstream.requests) == 1


def test_bad_input_is_a_400_and_never_reaches_gemini(make_gateway, upstream: FakeUpstream) -> None:
    client = make_gateway(gemini_config(upstream.url)).openai()
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gemini-2.0-flash", logit_bias={"1": 5},
                                       messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["param"] == "logit_bias"
    assert upstream.requests == []


@pytest.mark.parametrize(
    "extra",
    [
        {"tools": ["get_weather"]},
        {"tools": [{"type": "function", "function": "get_weather"}]},
        {"tool_choice": {"type": "function", "function": "x"}},
        {"tool_choice": {"type": "allowed_tools", "allowed_tools": {"tools": "x"}}},
        {"response_format": "json"},
        {"response_format": {"type": "json_schema", "json_schema": "x"}},
        {"modalities": 5},
        {"reasoning_effort": 3},
        {"messages": [{"role": "user", "content": ["hi"]}]},
        {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": "x"}]}]},
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": 7}]}]},
        {"messages": [{"role": "assistant", "tool_calls": {"id": "c"}}]},
        {"messages": [{"role": "assistant", "tool_calls": [
            {"id": "c", "function": {"name": "f", "arguments": "[1]"}, "extra_content": "x"}]}]},
        {"messages": [{"role": "system", "content": [{"type": "image_url"}]}]},
    ],
)
def test_malformed_requests_are_400_never_500(
    make_gateway, upstream: FakeUpstream, extra: dict
) -> None:
    gateway = make_gateway(gemini_config(upstream.url))
    body = {"model": "gemini-2.0-flash", "messages": [{"role": "user", "content": "x"}], **extra}
    response = httpx.post(gateway.base_url + "/chat/completions", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert upstream.requests == []


def _raw_stream(gateway_url: str) -> str:
    with httpx.stream("POST", gateway_url + "/chat/completions", json={
        "model": "gemini/gemini-2.5-flash", "stream": True,
        "messages": [{"role": "user", "content": "x"}],
    }) as response:
        assert response.status_code == 200
        return "".join(response.iter_text())


def _last_error(text: str) -> dict:
    last = [line for line in text.splitlines() if line.startswith("data: ")][-1]
    return json.loads(last[6:])["error"]


@pytest.mark.parametrize(
    ("fixture", "message"),
    [("stream_error_midway.sse", "The model is overloaded. Please try again later."),
     ("stream_error_bare_json.sse", "An internal error has occurred.")],
)
def test_error_mid_stream_ends_with_its_message_and_no_done(
    make_gateway, upstream: FakeUpstream, fixture: str, message: str
) -> None:
    upstream.always(stream(events(fixture)))
    text = _raw_stream(make_gateway(gemini_config(upstream.url)).base_url)
    assert "Here is the first part of a long" in text
    assert "[DONE]" not in text
    assert _last_error(text)["message"].startswith(message)


@pytest.mark.parametrize("drop", [True, False])
def test_stream_cut_before_finish_reason_is_incomplete(
    make_gateway, upstream: FakeUpstream, drop: bool
) -> None:
    transcript = events("stream_text.sse")
    # A cut discards what the gateway had not read yet, so the fake paces its writes.
    upstream.always(stream(transcript, drop_after=2, delay=0.1) if drop
                    else stream(transcript[:2]))
    text = _raw_stream(make_gateway(gemini_config(upstream.url)).base_url)
    assert '"content":"Why"' in text
    assert "[DONE]" not in text
    assert _last_error(text)["type"] == "server_error"


def test_client_going_away_hangs_up_on_gemini(make_gateway, upstream: FakeUpstream) -> None:
    hung_up = threading.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(events("stream_text.sse")[0])
        try:
            await asyncio.Event().wait()  # never answers the rest
        except asyncio.CancelledError:
            hung_up.set()
            raise
        return response

    upstream.always(slow)
    gateway = make_gateway(gemini_config(upstream.url))
    with httpx.stream("POST", gateway.base_url + "/chat/completions", json={
        "model": "gemini-2.0-flash", "stream": True,
        "messages": [{"role": "user", "content": "x"}],
    }) as response:
        first = next(response.iter_lines())
    assert '"content":"Why"' in first
    assert hung_up.wait(10)


def test_embeddings_use_batch_embed_contents(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(load("embeddings_response.json")))
    client = make_gateway(gemini_config(upstream.url)).openai()
    result = client.embeddings.create(model="text-embedding-004", input=["hello", "world"],
                                      dimensions=4)
    expected = [e["values"] for e in load("embeddings_response.json")["embeddings"]]
    assert [pytest.approx(d.embedding, rel=1e-6) for d in result.data] == expected
    sent = upstream.requests[-1]
    assert sent.path == "/v1beta/models/text-embedding-004:batchEmbedContents"
    assert sent.json["requests"][1] == {"model": "models/text-embedding-004",
                                        "content": {"parts": [{"text": "world"}]},
                                        "outputDimensionality": 4}


def test_many_embeddings_are_sent_in_batches_of_100(make_gateway, upstream: FakeUpstream) -> None:
    async def embed(request: web.Request) -> web.Response:
        texts = [r["content"]["parts"][0]["text"] for r in (await request.json())["requests"]]
        return web.json_response({"embeddings": [{"values": [float(t)]} for t in texts]})

    upstream.always(embed)
    client = make_gateway(gemini_config(upstream.url)).openai()
    result = client.embeddings.create(model="text-embedding-004",
                                      input=[str(i) for i in range(250)], encoding_format="float")
    assert [d.embedding[0] for d in result.data] == [float(i) for i in range(250)]
    assert [d.index for d in result.data] == list(range(250))
    assert [len(r.json["requests"]) for r in upstream.requests] == [100, 100, 50]


def test_legacy_completions_are_bridged_to_chat(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(load("max_tokens_response.json")))
    client = make_gateway(gemini_config(upstream.url)).openai()
    answer = client.completions.create(model="gemini-2.0-flash", prompt="Once", max_tokens=8)
    assert answer.choices[0].text == "Once upon a time, in a valley"
    assert answer.choices[0].finish_reason == "length"
    assert upstream.requests[-1].json["contents"] == [{"role": "user", "parts": [{"text": "Once"}]}]


def test_key_never_logged(make_gateway, upstream: FakeUpstream, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    upstream.always(fail(429, load("error_rate_limited.json")))
    client = make_gateway(gemini_config(upstream.url)).openai()
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gemini-2.0-flash", user="u",
                                       messages=[{"role": "user", "content": "x"}])
    assert API_KEY not in caplog.text
