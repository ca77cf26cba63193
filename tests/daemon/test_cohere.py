"""Cohere through the gateway: Cohere's real wire format replayed from a fake upstream to the
official `openai` SDK, which must not be able to tell it is not talking to OpenAI."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from llmp.core.config_schema import ProviderConfig
from llmp.daemon.providers.cohere import CohereProvider
from tests.support.fake_upstream import FakeUpstream, fail, reply, stream
from tests.support.golden import Golden, last_data, post_stream

GOLDEN = Golden("cohere")
fixture_json, sse_events = GOLDEN.json, GOLDEN.sse_events
KEY = "co-test-key-0123456789abcdef"


def cohere_config(url: str) -> str:
    return f"""
providers:
  co:
    type: cohere
    base_url: {url}
    api_key: {KEY}
    models: [command-a-03-2025, embed-v4.0]
"""


def test_chat_request_is_translated_and_answer_reads_as_openai(
    make_gateway, upstream: FakeUpstream
) -> None:
    upstream.always(reply(fixture_json("chat_response.json")))
    client = make_gateway(cohere_config(upstream.url)).openai()
    request = fixture_json("chat_request_openai.json")
    answer = client.chat.completions.create(**request)
    sent = upstream.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/v2/chat")
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.json == fixture_json("chat_request_cohere.json")
    assert answer.id == "c14c80c3-18eb-4519-9460-6c92edd8cfb4"
    assert answer.model == "command-a-03-2025"
    assert answer.choices[0].message.content.startswith("LLMs stand for Large Language Models")
    assert answer.choices[0].finish_reason == "stop"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (5, 16)


@pytest.mark.parametrize("suffix", ["/v2", "/v1/"])
def test_base_url_given_with_a_version_means_the_api_root(
    make_gateway, upstream: FakeUpstream, suffix: str
) -> None:
    upstream.always(reply(fixture_json("chat_response.json")))
    client = make_gateway(cohere_config(upstream.url + suffix)).openai()
    client.chat.completions.create(model="co/command-a-03-2025",
                                   messages=[{"role": "user", "content": "Hi"}])
    assert upstream.requests[-1].path == "/v2/chat"


def test_tool_call_answer(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(fixture_json("chat_response_tool_call.json")))
    client = make_gateway(cohere_config(upstream.url)).openai()
    answer = client.chat.completions.create(
        model="co/command-a-03-2025", messages=[{"role": "user", "content": "Weather?"}])
    calls = answer.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_weather"]
    assert json.loads(calls[0].function.arguments) == {"location": "Toronto"}
    assert answer.choices[0].finish_reason == "tool_calls"


def test_stream_of_text_with_usage(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(sse_events("stream_text.sse")))
    client = make_gateway(cohere_config(upstream.url)).openai()
    parts, finish, usage = [], None, None
    for event in client.chat.completions.create(
        model="command-a-03-2025", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Tallest penguins?"}],
    ):
        for choice in event.choices:
            parts.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
        usage = event.usage or usage
    assert "".join(parts) == "The tallest penguins are emperor penguins."
    assert finish == "stop"
    assert usage is not None and usage.total_tokens == 38
    assert upstream.requests[-1].json["stream"] is True


async def test_streamed_tool_calls_arrive_whole(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(sse_events("stream_tool_call.sse")))
    client = make_gateway(cohere_config(upstream.url)).async_openai()
    calls: dict[int, dict] = {}
    text = ""
    async for event in await client.chat.completions.create(
        model="co/command-a-03-2025", stream=True,
        messages=[{"role": "user", "content": "Weather in Toronto and Paris?"}],
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
    ):
        delta = event.choices[0].delta
        text += delta.content or ""
        for part in delta.tool_calls or []:
            call = calls.setdefault(part.index, {"id": part.id, "name": part.function.name, "args": ""})
            call["args"] += part.function.arguments or ""
    assert text == "I will look up the weather in Toronto and Paris."
    assert calls[0]["id"] == "get_weather_776n8ctsgycn"
    assert calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["args"]) == {"location": "Toronto, Canada", "unit": "celsius"}
    assert calls[1]["id"] == "get_weather_8hqkf9ch5r3z"
    assert json.loads(calls[1]["args"]) == {"location": "Paris"}


def test_stream_helper_builds_the_final_completion(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(sse_events("stream_tool_call.sse")))
    client = make_gateway(cohere_config(upstream.url)).openai()
    with client.chat.completions.stream(
        model="command-a-03-2025", messages=[{"role": "user", "content": "Weather?"}],
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
    ) as events:
        final = events.get_final_completion()
    message = final.choices[0].message
    assert [c.id for c in message.tool_calls] == ["get_weather_776n8ctsgycn", "get_weather_8hqkf9ch5r3z"]
    assert json.loads(message.tool_calls[1].function.arguments) == {"location": "Paris"}
    assert final.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("transcript", "cut", "seen", "why"),
    [
        ("stream_error.sse", None, '"content":" answer"', "finish_reason ERROR"),
        ("stream_text.sse", "drop", '"content":"The"', "closed the connection"),
        ("stream_text.sse", "no message-end", '"content":"The"', "ended the stream before"),
    ],
)
def test_stream_failing_mid_way_ends_with_error_event(
    make_gateway, upstream: FakeUpstream, transcript: str, cut: str | None, seen: str, why: str
) -> None:
    events = sse_events(transcript)
    if cut == "drop":
        # paced: bytes still unread when the connection breaks are dropped by the client
        upstream.always(stream(events, drop_after=4, delay=0.05))
    else:
        upstream.always(stream(events[:-1] if cut else events))
    gateway = make_gateway(cohere_config(upstream.url))
    status, text = post_stream(gateway.base_url, {
        "model": "co/command-a-03-2025", "messages": [{"role": "user", "content": "x"}]})
    assert status == 200
    assert seen in text
    assert "[DONE]" not in text
    error = last_data(text)["error"]
    assert error["type"] == "server_error"
    assert why in error["message"]


@pytest.mark.parametrize(
    ("status", "name", "error_class"),
    [
        (400, "error_400.json", openai.BadRequestError),
        (401, "error_401.json", openai.AuthenticationError),
        (404, "error_404.json", openai.NotFoundError),
        (429, "error_429.json", openai.RateLimitError),
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
def test_errors_keep_status_and_message(
    make_gateway, upstream: FakeUpstream, status: int, name: str, error_class: type, streaming: bool
) -> None:
    body = fixture_json(name)
    upstream.always(fail(status, body))
    client = make_gateway(cohere_config(upstream.url)).openai()
    with pytest.raises(error_class) as caught:
        result = client.chat.completions.create(
            model="co/command-a-03-2025", stream=streaming,
            messages=[{"role": "user", "content": "x"}])
        list(result) if streaming else None
    assert caught.value.status_code == status
    assert caught.value.body["message"] == body["message"]
    assert KEY not in json.dumps(caught.value.body)


def test_rate_limit_passes_retry_after(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(fail(429, fixture_json("error_429.json"), headers={"Retry-After": "12"}))
    gateway = make_gateway(cohere_config(upstream.url))
    response = httpx.post(gateway.base_url + "/chat/completions", json={
        "model": "co/command-a-03-2025", "messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "12"


def test_several_choices_are_refused_before_reaching_cohere(
    make_gateway, upstream: FakeUpstream
) -> None:
    client = make_gateway(cohere_config(upstream.url)).openai()
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="co/command-a-03-2025", n=2,
                                       messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["param"] == "n"
    assert upstream.requests == []


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"stop": [1, 2]}, "stop"),
        ({"tools": [{"type": "function"}]}, "tools[0].function.name"),
        ({"tools": [{"type": "function", "function": 5}]}, "tools[0].function.name"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": 5}}]},
         "tools[0].function.parameters"),
        ({"tool_choice": {"type": "function", "function": 5}}, "tool_choice"),
        ({"response_format": {"type": "json_schema", "json_schema": "x"}}, "response_format"),
        ({"response_format": {"type": "json_schema", "json_schema": {"schema": 5}}},
         "response_format"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
         "messages[0].content"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": 5}]}]},
         "messages[0].content"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
         "messages[0].content"),
        ({"messages": [{"role": "assistant", "content": "x", "tool_calls": [5]}]},
         "messages[0].tool_calls[0]"),
        ({"messages": [{"role": "assistant", "tool_calls": [{"id": "a", "function": 5}]}]},
         "messages[0].tool_calls[0]"),
        ({"messages": [{"role": "assistant", "tool_calls": [
            {"id": "a", "function": {"name": "f", "arguments": 5}}]}]},
         "messages[0].tool_calls[0].function.arguments"),
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
def test_malformed_requests_are_400s_never_500s(
    make_gateway, upstream: FakeUpstream, extra: dict, param: str, streaming: bool
) -> None:
    client = make_gateway(cohere_config(upstream.url)).openai()
    request = {"model": "co/command-a-03-2025", "messages": [{"role": "user", "content": "x"}],
               **extra}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(**request, stream=streaming)
    assert caught.value.body["param"] == param
    assert upstream.requests == []


def test_embeddings_with_the_sdk_default_encoding(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(fixture_json("embed_response.json")))
    client = make_gateway(cohere_config(upstream.url)).openai()
    result = client.embeddings.create(model="co/embed-v4.0", input=["hello", "goodbye"])
    assert result.data[0].embedding == pytest.approx([0.016296387, -0.008354187, -0.04699707, -0.07104492])
    assert result.usage.prompt_tokens == 2
    sent = upstream.requests[-1]
    assert sent.path == "/v2/embed"
    assert sent.json == fixture_json("embed_request.json")
    client.embeddings.create(model="embed-v4.0", input="what is a penguin?", encoding_format="float",
                             extra_body={"input_type": "search_query"})
    assert upstream.requests[-1].json["input_type"] == "search_query"


def test_legacy_completions_are_bridged_to_chat(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(fixture_json("chat_response.json")))
    client = make_gateway(cohere_config(upstream.url)).openai()
    text = client.completions.create(model="co/command-a-03-2025", prompt="What is an LLM?")
    assert text.choices[0].text.startswith("LLMs stand for")
    assert upstream.requests[-1].json["messages"] == [{"role": "user", "content": "What is an LLM?"}]


async def test_list_models_reads_cohere_model_names(upstream: FakeUpstream) -> None:
    upstream.always(reply(fixture_json("models_response.json")))
    provider = CohereProvider("co", ProviderConfig(type="cohere", base_url=upstream.url, api_key=KEY))
    await provider.start()
    try:
        assert await provider.list_models() == ["command-a-03-2025", "embed-v4.0"]
    finally:
        await provider.close()
    sent = upstream.requests[-1]
    assert (sent.method, sent.path) == ("GET", "/v1/models")
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
