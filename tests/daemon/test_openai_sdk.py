"""The official `openai` SDK against the gateway: mock provider and a fake OpenAI upstream."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.support.fake_upstream import FakeUpstream, fail, reply, sse_json, stream

MOCK_ONLY = """
providers:
  mock:
    type: mock
    models: [mock-1]
"""


def openai_config(url: str, extra: str = "") -> str:
    return f"""
providers:
  up:
    type: openai
    base_url: {url}/v1
    api_key: sk-test-upstream-key-123456
    models: [gpt-4o-mini, text-embedding-3-small]
{extra}
"""


COMPLETION = {
    "id": "chatcmpl-123", "object": "chat.completion", "created": 1700000000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi there!",
                                         "refusal": None},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
    "system_fingerprint": "fp_1",
}


def chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> dict:
    return {"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "gpt-4o-mini", "choices": [] if usage else
            [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            "usage": usage}


def test_mock_chat_sync(make_gateway) -> None:
    client = make_gateway(MOCK_ONLY).openai()
    answer = client.chat.completions.create(
        model="mock-1", messages=[{"role": "user", "content": "ping pong"}]
    )
    assert answer.choices[0].message.content == "ping pong"
    assert answer.usage.total_tokens == 4


def test_mock_stream_with_usage(make_gateway) -> None:
    client = make_gateway(MOCK_ONLY).openai()
    parts, usage = [], None
    for event in client.chat.completions.create(
        model="mock/mock-1", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "one two three"}],
    ):
        if event.choices and event.choices[0].delta.content:
            parts.append(event.choices[0].delta.content)
        usage = event.usage or usage
    assert "".join(parts) == "one two three"
    assert usage is not None and usage.completion_tokens == 3


def test_mock_n_choices_streamed_or_not(make_gateway) -> None:
    client = make_gateway(MOCK_ONLY).openai()
    messages = [{"role": "user", "content": "one two"}]
    whole = client.chat.completions.create(model="mock-1", n=3, messages=messages)
    assert [(c.index, c.message.content) for c in whole.choices] == [(i, "one two") for i in range(3)]
    texts, finished, usage = ["", "", ""], set(), None
    for event in client.chat.completions.create(model="mock-1", n=3, stream=True, messages=messages,
                                                stream_options={"include_usage": True}):
        for choice in event.choices:
            texts[choice.index] += choice.delta.content or ""
            finished |= {choice.index} if choice.finish_reason == "stop" else set()
        usage = event.usage or usage
    assert texts == ["one two"] * 3 and finished == {0, 1, 2}
    assert usage is not None and usage.completion_tokens == whole.usage.completion_tokens == 6


def test_mock_answers_in_the_response_format_asked_for(make_gateway) -> None:
    client = make_gateway(MOCK_ONLY).openai()
    messages = [{"role": "user", "content": "hello"}]
    plain = client.chat.completions.create(model="mock-1", messages=messages,
                                           response_format={"type": "json_object"})
    assert json.loads(plain.choices[0].message.content) == {"reply": "hello"}
    schema = {"type": "object", "properties": {
        "answer": {"type": "string"}, "score": {"type": "number"}, "tags": {"type": "array"},
        "mood": {"enum": ["happy", "sad"]},
        "inner": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
    }, "required": ["answer", "score", "tags", "mood", "inner"], "additionalProperties": False}
    shaped = client.chat.completions.create(model="mock-1", messages=messages, response_format={
        "type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": True}})
    assert json.loads(shaped.choices[0].message.content) == {
        "answer": "hello", "score": 0, "tags": [], "mood": "happy", "inner": {"ok": False}}
    streamed = client.chat.completions.create(model="mock-1", messages=messages, stream=True,
                                              response_format={"type": "json_object"})
    text = "".join(e.choices[0].delta.content or "" for e in streamed if e.choices)
    assert json.loads(text) == {"reply": "hello"}


def test_mock_reads_the_text_beside_an_image(make_gateway) -> None:
    client = make_gateway(MOCK_ONLY).openai()
    answer = client.chat.completions.create(model="mock-1", messages=[{"role": "user", "content": [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}])
    assert answer.choices[0].message.content == "what is this"


async def test_mock_async_and_tool_calls(make_gateway) -> None:
    client = make_gateway(MOCK_ONLY).async_openai()
    answer = await client.chat.completions.create(
        model="mock-1",
        messages=[{"role": "user", "content": "weather?"}],
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
        extra_body={"mock": {"tool_calls": [{"name": "get_weather",
                                             "arguments": {"city": "Paris"}}]}},
    )
    call = answer.choices[0].message.tool_calls[0]
    assert answer.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    streamed = await client.chat.completions.create(
        model="mock-1", stream=True, messages=[{"role": "user", "content": "x"}],
        extra_body={"mock": {"tool_calls": [{"name": "f", "arguments": {"a": [1, 2]}}]}},
    )
    arguments, ids = "", []
    async for event in streamed:
        for delta in event.choices[0].delta.tool_calls or []:
            ids.append(delta.id)
            arguments += delta.function.arguments or ""
    assert ids[0] and ids[0].startswith("call_")
    assert json.loads(arguments) == {"a": [1, 2]}


def test_mock_embeddings_and_completions(make_gateway) -> None:
    client = make_gateway(MOCK_ONLY).openai()
    vectors = client.embeddings.create(model="mock-1", input=["a", "b"], dimensions=4)
    assert [len(d.embedding) for d in vectors.data] == [4, 4]
    again = client.embeddings.create(model="mock-1", input="a", dimensions=4)
    assert again.data[0].embedding == vectors.data[0].embedding
    text = client.completions.create(model="mock-1", prompt="say this")
    assert text.choices[0].text == "say this"


def test_mock_failure_reaches_client_in_openai_shape(make_gateway) -> None:
    client = make_gateway(MOCK_ONLY).openai()
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model="mock-1", messages=[{"role": "user", "content": "x"}],
            extra_body={"mock": {"fail_status": 429, "fail_message": "slow down"}},
        )
    assert caught.value.status_code == 429
    assert caught.value.body["message"] == "slow down"


def test_pass_through_is_untouched_except_model(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(COMPLETION))
    gateway = make_gateway(openai_config(upstream.url))
    body = {"model": "up/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
            "temperature": 0.2, "logit_bias": {"50256": -100}, "seed": 7, "metadata": {"k": "v"}}
    response = httpx.post(gateway.base_url + "/chat/completions", json=body)
    assert response.status_code == 200
    assert response.json() == COMPLETION
    sent = upstream.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.json == {**body, "model": "gpt-4o-mini"}
    assert sent.headers["Authorization"] == "Bearer sk-test-upstream-key-123456"
    assert response.headers["x-llmp-provider"] == "up"
    assert response.headers["x-llmp-model"] == "gpt-4o-mini"
    assert response.headers["x-llmp-attempts"] == "1"


def test_bare_model_name_and_stream(make_gateway, upstream: FakeUpstream) -> None:
    events = sse_json([chunk({"role": "assistant", "content": ""}), chunk({"content": "Hel"}),
                       chunk({"content": "lo"}), chunk({}, "stop"),
                       chunk({}, usage={"prompt_tokens": 1, "completion_tokens": 2,
                                        "total_tokens": 3})])
    upstream.always(stream(events))
    client = make_gateway(openai_config(upstream.url)).openai()
    text = "".join(
        e.choices[0].delta.content or ""
        for e in client.chat.completions.create(
            model="gpt-4o-mini", stream=True, messages=[{"role": "user", "content": "hi"}])
        if e.choices
    )
    assert text == "Hello"
    assert upstream.requests[-1].json["model"] == "gpt-4o-mini"


def test_stream_tool_call_deltas(make_gateway, upstream: FakeUpstream) -> None:
    head = {"index": 0, "id": "call_abc", "type": "function",
            "function": {"name": "lookup", "arguments": ""}}
    events = sse_json([
        chunk({"role": "assistant", "content": None, "tool_calls": [head]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"q\": "}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "\"llmp\"}"}}]}),
        chunk({}, "tool_calls"),
    ])
    upstream.always(stream(events))
    client = make_gateway(openai_config(upstream.url)).openai()
    arguments, names = "", []
    for event in client.chat.completions.create(
        model="up/gpt-4o-mini", stream=True, messages=[{"role": "user", "content": "x"}],
        tools=[{"type": "function", "function": {"name": "lookup", "parameters": {}}}],
    ):
        for delta in event.choices[0].delta.tool_calls or []:
            names.append(delta.function.name)
            arguments += delta.function.arguments or ""
    assert names[0] == "lookup"
    assert json.loads(arguments) == {"q": "llmp"}


def test_embeddings_pass_through(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply({"object": "list", "model": "text-embedding-3-small",
                           "data": [{"object": "embedding", "index": 0,
                                     "embedding": [0.1, 0.2]}],
                           "usage": {"prompt_tokens": 2, "total_tokens": 2}}))
    client = make_gateway(openai_config(upstream.url)).openai()
    result = client.embeddings.create(model="text-embedding-3-small", input="hello")
    assert result.data[0].embedding == [0.1, 0.2]
    assert upstream.requests[-1].path == "/v1/embeddings"


def test_models_lists_providers_and_aliases(make_gateway, upstream: FakeUpstream) -> None:
    config = openai_config(upstream.url, "models:\n  smart: [up/gpt-4o-mini]\n")
    client = make_gateway(config).openai()
    ids = {m.id for m in client.models.list()}
    assert {"smart", "up/gpt-4o-mini", "gpt-4o-mini", "up/text-embedding-3-small"} <= ids
    assert client.models.retrieve("smart").id == "smart"


@pytest.mark.parametrize(
    ("status", "error_class", "body"),
    [
        (400, openai.BadRequestError,
         {"error": {"message": "Unsupported parameter: 'foo'", "type": "invalid_request_error",
                    "param": "foo", "code": "unsupported_parameter"}}),
        (401, openai.AuthenticationError,
         {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                    "param": None, "code": "invalid_api_key"}}),
        (404, openai.NotFoundError,
         {"error": {"message": "The model `gpt-9` does not exist", "type": "invalid_request_error",
                    "param": None, "code": "model_not_found"}}),
        (429, openai.RateLimitError,
         {"error": {"message": "Rate limit reached", "type": "requests", "param": None,
                    "code": "rate_limit_exceeded"}}),
        (500, openai.InternalServerError,
         {"error": {"message": "The server had an error", "type": "server_error", "param": None,
                    "code": None}}),
    ],
)
def test_upstream_errors_keep_status_and_message(
    make_gateway, upstream: FakeUpstream, status: int, error_class: type, body: dict
) -> None:
    upstream.always(fail(status, body))
    client = make_gateway(openai_config(upstream.url)).openai()
    with pytest.raises(error_class) as caught:
        client.chat.completions.create(model="up/gpt-4o-mini",
                                       messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == status
    assert caught.value.body["message"] == body["error"]["message"]
    assert caught.value.body["code"] == body["error"]["code"]
    assert "sk-test-upstream-key" not in str(caught.value.body)


def test_unknown_model_is_404_with_closest_names(make_gateway, upstream: FakeUpstream) -> None:
    client = make_gateway(openai_config(upstream.url)).openai()
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o-mni",
                                       messages=[{"role": "user", "content": "x"}])
    assert "gpt-4o-mini" in caught.value.body["message"]
    assert caught.value.body["param"] == "model"
    assert upstream.requests == []


def test_stream_cut_mid_way_ends_with_error_event(make_gateway, upstream: FakeUpstream) -> None:
    events = sse_json([chunk({"role": "assistant", "content": ""}), chunk({"content": "par"}),
                       chunk({"content": "tial"}), chunk({}, "stop")])
    # paced: bytes still unread when the connection breaks are dropped by the client
    upstream.always(stream(events, drop_after=2, delay=0.05))
    gateway = make_gateway(openai_config(upstream.url))
    with httpx.stream("POST", gateway.base_url + "/chat/completions",
                      json={"model": "up/gpt-4o-mini", "stream": True,
                            "messages": [{"role": "user", "content": "x"}]}) as response:
        text = "".join(response.iter_text())
    assert response.status_code == 200
    assert '"content": "par"' in text or '"content":"par"' in text
    assert "[DONE]" not in text
    last = [line for line in text.splitlines() if line.startswith("data: ")][-1]
    assert "error" in json.loads(last[6:])


def test_crlf_stream_split_anywhere_passes_through(make_gateway, upstream: FakeUpstream) -> None:
    events = b"".join(sse_json([chunk({"role": "assistant", "content": ""}),
                                chunk({"content": "crlf ok"}), chunk({}, "stop")]))
    raw = events.replace(b"\n", b"\r\n")
    upstream.always(stream([raw[i:i + 7] for i in range(0, len(raw), 7)]))
    client = make_gateway(openai_config(upstream.url)).openai()
    text = "".join(
        e.choices[0].delta.content or ""
        for e in client.chat.completions.create(
            model="up/gpt-4o-mini", stream=True, messages=[{"role": "user", "content": "x"}])
    )
    assert text == "crlf ok"


def test_stream_without_done_is_an_error_event(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(sse_json([chunk({"content": "a"}), chunk({}, "stop")], done=False)))
    gateway = make_gateway(openai_config(upstream.url))
    with httpx.stream("POST", gateway.base_url + "/chat/completions",
                      json={"model": "up/gpt-4o-mini", "stream": True,
                            "messages": [{"role": "user", "content": "x"}]}) as response:
        text = "".join(response.iter_text())
    assert "[DONE]" not in text
    assert "ended the stream before it was finished" in text
