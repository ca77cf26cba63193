"""Azure OpenAI through the gateway: Azure's real wire format replayed from a fake upstream
to the official `openai` SDK, plus what Azure alone does (URL, api-version, key header,
deployments, content filters, retry-after-ms)."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from llmp.core.config_loader import parse_config
from llmp.core.config_schema import ProviderConfig
from llmp.daemon.providers.azure import AzureOpenAIProvider
from tests.support.fake_upstream import FakeUpstream, fail, reply, stream
from tests.support.golden import Golden, last_data, post_stream

GOLDEN = Golden("azure")
fixture_json, sse_events = GOLDEN.json, GOLDEN.sse_events
KEY = "azure-test-key-0123456789abcdef"


def azure_config(url: str, extra: str = "") -> str:
    return f"""
providers:
  az:
    type: azure
    base_url: {url}
    api_key: {KEY}
    models: [gpt-4o, text-embedding-3-small]
{extra}
"""


def test_chat_url_api_version_and_key_header(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(fixture_json("chat_response.json")))
    config = azure_config(upstream.url, "    deployments: {gpt-4o: prod-gpt4o}\n")
    client = make_gateway(config).openai()
    request = fixture_json("chat_request.json")
    answer = client.chat.completions.create(model="az/gpt-4o", **request)
    assert answer.choices[0].message.content == "Hello! How can I help?"
    assert answer.usage.total_tokens == 26
    sent = upstream.requests[-1]
    assert sent.path == "/openai/deployments/prod-gpt4o/chat/completions"
    assert sent.query == {"api-version": "2024-10-21"}
    assert sent.headers["api-key"] == KEY
    assert "Authorization" not in sent.headers
    assert sent.json == {**request, "model": "prod-gpt4o"}


def test_base_url_given_with_the_openai_path_means_the_resource_root(
    make_gateway, upstream: FakeUpstream
) -> None:
    upstream.always(reply(fixture_json("chat_response.json")))
    client = make_gateway(azure_config(upstream.url + "/openai/")).openai()
    client.chat.completions.create(model="az/gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    assert upstream.requests[-1].path == "/openai/deployments/gpt-4o/chat/completions"


def test_unmapped_model_is_its_own_deployment_and_api_version_is_configurable(
    make_gateway, upstream: FakeUpstream
) -> None:
    upstream.always(reply(fixture_json("chat_response.json")))
    config = azure_config(upstream.url, "    api_version: 2025-01-01-preview\n")
    client = make_gateway(config).openai()
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    sent = upstream.requests[-1]
    assert sent.path == "/openai/deployments/gpt-4o/chat/completions"
    assert sent.query == {"api-version": "2025-01-01-preview"}


def test_v1_api_shape_and_entra_bearer(
    make_gateway, upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream.always(reply(fixture_json("chat_response.json")))
    config = f"""
providers:
  az:
    type: azure
    base_url: {upstream.url}/openai/v1
    api_key: env:AZURE_TOKEN_FOR_TEST
    azure_auth: entra
    deployments: {{gpt-4o: team-gpt4o}}
    models: [gpt-4o]
"""
    monkeypatch.setenv("AZURE_TOKEN_FOR_TEST", "eyJ0eXAiOiJKV1QiLCJhbGciOi.token")
    client = make_gateway(config).openai()
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    sent = upstream.requests[-1]
    assert sent.path == "/openai/v1/chat/completions"
    assert sent.query == {}
    assert sent.json["model"] == "team-gpt4o"
    assert sent.headers["Authorization"] == "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOi.token"
    assert "api-key" not in sent.headers


def test_stream_with_prompt_filter_chunk_and_annotations(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(sse_events("stream_text.sse")))
    client = make_gateway(azure_config(upstream.url)).openai()
    parts, finish = [], None
    for event in client.chat.completions.create(
        model="az/gpt-4o", stream=True, messages=[{"role": "user", "content": "Hi"}]
    ):
        for choice in event.choices:
            if choice.delta is not None:
                parts.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert "".join(parts) == "Hello! How can I help?"
    assert finish == "stop"
    sent = upstream.requests[-1]
    assert sent.path == "/openai/deployments/gpt-4o/chat/completions"
    assert sent.json["stream"] is True


def test_stream_helper_accumulates_through_azure_extras(make_gateway, upstream: FakeUpstream) -> None:
    """The SDK's `.stream()` helper builds the final message across Azure's extra chunks."""
    upstream.always(stream(sse_events("stream_tool_call.sse")))
    client = make_gateway(azure_config(upstream.url)).openai()
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"location": {"type": "string"}, "unit": {"type": "string"}}}}}]
    with client.chat.completions.stream(
        model="az/gpt-4o", messages=[{"role": "user", "content": "Weather in Paris?"}], tools=tools,
    ) as events:
        final = events.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    assert call.id == "call_7qpTQ0dRQnJ3tUfVjP0o8Wcs"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "Paris, France", "unit": "celsius"}
    assert final.choices[0].finish_reason == "tool_calls"


def test_stream_helper_survives_filter_annotations(make_gateway, upstream: FakeUpstream) -> None:
    """Azure's filter-only chunks (no `choices`, or a choice without `delta`) are relayed and harmless."""
    upstream.always(stream(sse_events("stream_text.sse")))
    client = make_gateway(azure_config(upstream.url)).openai()
    with client.chat.completions.stream(
        model="az/gpt-4o", messages=[{"role": "user", "content": "Hi"}]
    ) as events:
        final = events.get_final_completion()
    assert final.choices[0].message.content == "Hello! How can I help?"
    assert final.choices[0].finish_reason == "stop"


def test_tool_calls_and_cached_tokens_without_streaming(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(fixture_json("chat_response_tool_call.json")))
    client = make_gateway(azure_config(upstream.url)).openai()
    answer = client.chat.completions.create(
        model="az/gpt-4o", messages=[{"role": "user", "content": "Weather in Paris and Rome?"}])
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert [(c.id, c.function.name) for c in choice.message.tool_calls] == [
        ("call_Jx4uZ6bN1qW8sT3vY0pK2mRd", "get_weather"),
        ("call_Pq7wE2rT9yU4iO1aS6dF3gHj", "get_weather")]
    assert [json.loads(c.function.arguments) for c in choice.message.tool_calls] == [
        {"location": "Paris, France", "unit": "celsius"},
        {"location": "Rome, Italy", "unit": "celsius"}]
    assert answer.usage.prompt_tokens_details.cached_tokens == 1024


async def test_streamed_tool_call_reaches_async_client(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(sse_events("stream_tool_call.sse")))
    client = make_gateway(azure_config(upstream.url)).async_openai()
    ids, names, arguments, usage = [], [], "", None
    async for event in await client.chat.completions.create(
        model="az/gpt-4o", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    ):
        for choice in event.choices:
            for delta in choice.delta.tool_calls or []:
                ids.append(delta.id)
                names.append(delta.function.name)
                arguments += delta.function.arguments or ""
        usage = event.usage or usage
    assert ids[0] == "call_7qpTQ0dRQnJ3tUfVjP0o8Wcs"
    assert names[0] == "get_weather"
    assert json.loads(arguments) == {"location": "Paris, France", "unit": "celsius"}
    assert usage is not None and usage.total_tokens == 97


def test_output_filtered_stream_finishes_with_content_filter(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(sse_events("stream_content_filter.sse")))
    client = make_gateway(azure_config(upstream.url)).openai()
    finishes = [
        choice.finish_reason
        for event in client.chat.completions.create(
            model="az/gpt-4o", stream=True, messages=[{"role": "user", "content": "x"}])
        for choice in event.choices if choice.finish_reason
    ]
    assert finishes == ["content_filter"]


def test_prompt_content_filter_is_a_400_content_policy_error(
    make_gateway, make_upstream
) -> None:
    first, second = make_upstream(), make_upstream()
    first.always(fail(400, fixture_json("error_content_filter.json")))
    second.always(reply(fixture_json("chat_response.json")))
    config = f"""
providers:
  az:
    type: azure
    base_url: {first.url}
    api_key: {KEY}
    models: [gpt-4o]
  backup:
    type: azure
    base_url: {second.url}
    api_key: {KEY}
    models: [gpt-4o]
models:
  safe: [az/gpt-4o, backup/gpt-4o]
"""
    client = make_gateway(config).openai()
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="safe", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 400
    assert caught.value.body["code"] == "content_filter"
    assert caught.value.body["message"].startswith("The response was filtered")
    # a content-policy refusal is final: the same prompt is not sent elsewhere
    assert second.requests == []


@pytest.mark.parametrize(
    ("status", "name", "error_class"),
    [
        (401, "error_unauthorized.json", openai.AuthenticationError),
        (404, "error_deployment_not_found.json", openai.NotFoundError),
        (429, "error_rate_limit.json", openai.RateLimitError),
    ],
)
def test_errors_keep_status_and_message(
    make_gateway, upstream: FakeUpstream, status: int, name: str, error_class: type
) -> None:
    body = fixture_json(name)
    upstream.always(fail(status, body))
    client = make_gateway(azure_config(upstream.url)).openai()
    with pytest.raises(error_class) as caught:
        client.chat.completions.create(model="az/gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == status
    assert caught.value.body["message"] == body["error"]["message"]
    assert KEY not in json.dumps(caught.value.body)


def test_retry_after_ms_reaches_the_client(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(fail(429, fixture_json("error_rate_limit.json"),
                         headers={"x-ms-retry-after-ms": "7000", "retry-after": "60"}))
    gateway = make_gateway(azure_config(upstream.url))
    response = httpx.post(gateway.base_url + "/chat/completions", json={
        "model": "az/gpt-4o", "messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"


def test_stream_cut_mid_way_ends_with_error_event(make_gateway, upstream: FakeUpstream) -> None:
    # paced: bytes still unread when the connection breaks are dropped by the client
    upstream.always(stream(sse_events("stream_text.sse"), drop_after=4, delay=0.05))
    gateway = make_gateway(azure_config(upstream.url))
    status, text = post_stream(gateway.base_url, {
        "model": "az/gpt-4o", "messages": [{"role": "user", "content": "x"}]})
    assert status == 200
    assert '"content":"Hello"' in text
    assert "[DONE]" not in text
    assert last_data(text)["error"]["type"] == "server_error"


def test_embeddings_and_models_go_to_azure_paths(make_gateway, upstream: FakeUpstream) -> None:
    upstream.then(reply(fixture_json("embeddings_response.json")))
    config = azure_config(upstream.url, "    deployments: {text-embedding-3-small: embed-small}\n")
    gateway = make_gateway(config)
    result = gateway.openai().embeddings.create(
        model="az/text-embedding-3-small", input="hello", encoding_format="float")
    assert result.data[0].embedding == [0.0023064255, -0.009327292, -0.0028842222]
    sent = upstream.requests[-1]
    assert sent.path == "/openai/deployments/embed-small/embeddings"
    assert sent.query == {"api-version": "2024-10-21"}


async def test_list_models_uses_the_azure_models_endpoint(upstream: FakeUpstream) -> None:
    upstream.always(reply(fixture_json("models_response.json")))
    provider = AzureOpenAIProvider("az", ProviderConfig(type="azure", base_url=upstream.url, api_key=KEY))
    await provider.start()
    try:
        assert await provider.list_models() == ["gpt-4o"]
    finally:
        await provider.close()
    sent = upstream.requests[-1]
    assert (sent.method, sent.path, sent.query) == ("GET", "/openai/models", {"api-version": "2024-10-21"})
    assert sent.headers["api-key"] == KEY


async def test_canonical_stream_drops_filter_only_chunks(upstream: FakeUpstream) -> None:
    """Clients of other wire formats get only chunks with deltas (or usage) from Azure."""
    upstream.always(stream(sse_events("stream_text.sse")))
    provider = AzureOpenAIProvider("az", ProviderConfig(type="azure", base_url=upstream.url, api_key=KEY))
    await provider.start()
    try:
        chunks = [c async for c in await provider.chat_stream(
            {"messages": [{"role": "user", "content": "Hi"}]}, "gpt-4o")]
    finally:
        await provider.close()
    assert all(c["choices"] and all("delta" in choice for choice in c["choices"]) for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "Hello! How can I help?"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_unquoted_api_version_is_read_as_text() -> None:
    config = parse_config(azure_config("https://res.openai.azure.com", "    api_version: 2024-06-01\n"))
    assert config.providers["az"].api_version == "2024-06-01"
