"""The response cache through the official `anthropic` SDK, relayed and translated."""

from __future__ import annotations

import anthropic
import httpx

from tests.daemon.anthropic_fixtures import events, load, transcript
from tests.daemon.cache.support import CLAUDE, anthropic_upstream, openai_upstream, settled, shape, sse
from tests.support.fake_upstream import FakeUpstream, reply, stream
from tests.support.golden import Golden

ASK = {"model": CLAUDE, "max_tokens": 100, "messages": [{"role": "user", "content": "Hello"}]}


def test_messages_miss_then_hit(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(load("response_text.json")))
    gateway = make_gateway(anthropic_upstream(upstream.url))
    client = gateway.anthropic()
    first = client.messages.with_raw_response.create(**ASK, metadata={"user_id": "u1"})
    settled(gateway)
    second = client.messages.with_raw_response.create(**ASK, metadata={"user_id": "u2"})
    assert (first.headers["x-llmp-cache"], second.headers["x-llmp-cache"]) == ("miss", "hit")
    assert second.http_response.content == first.http_response.content
    assert second.parse().content[0].text == "Hello! How can I help you today?"
    assert upstream.count("/v1/messages") == 1


def test_anthropic_beta_is_part_of_the_question(make_gateway, upstream) -> None:
    upstream.always(reply(load("response_text.json")))
    gateway = make_gateway(anthropic_upstream(upstream.url))
    client = gateway.anthropic()
    client.messages.create(**ASK)
    settled(gateway)
    beta = client.messages.with_raw_response.create(
        **ASK, extra_headers={"anthropic-beta": "context-1m-2025-08-07"})
    assert beta.headers["x-llmp-cache"] == "miss"
    assert upstream.count("/v1/messages") == 2


def test_a_stored_message_is_replayed_as_the_golden_event_sequence(make_gateway, upstream) -> None:
    message = load("response_text.json")
    upstream.always(reply(message))
    gateway = make_gateway(anthropic_upstream(upstream.url))
    gateway.anthropic().messages.create(**ASK)
    settled(gateway)
    with httpx.stream("POST", gateway.url + "/v1/messages", json={**ASK, "stream": True}) as response:
        assert response.headers["x-llmp-cache"] == "hit"
        replayed = sse(response.read())
    golden = sse(transcript("stream_text.sse"))
    assert shape(replayed) == shape(golden)
    assert [name for name, _ in replayed] == [data["type"] for _, data in replayed]
    start, golden_start = replayed[0][1]["message"], golden[0][1]["message"]
    assert set(start) == set(golden_start) and start["content"] == [] and start["stop_reason"] is None
    delta = next(data for name, data in replayed if name == "message_delta")
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] == message["usage"]["output_tokens"]
    # The SDK adds the replay up to the very message that was stored.
    with gateway.anthropic().messages.stream(**ASK) as streamed:
        final = streamed.get_final_message()
    assert final.model_dump(exclude_none=True) == {
        k: v for k, v in gateway.anthropic().messages.create(**ASK).model_dump(exclude_none=True).items()}
    assert final.content[0].text == message["content"][0]["text"]
    assert final.usage.cache_read_input_tokens == message["usage"]["cache_read_input_tokens"]
    assert upstream.count("/v1/messages") == 1


def test_a_stored_thinking_tool_use_stream_is_replayed_as_the_whole_message(make_gateway, upstream) -> None:
    upstream.always(stream(events("stream_thinking_tool_use.sse")))
    gateway = make_gateway(anthropic_upstream(upstream.url))
    tool = {"name": "get_weather", "input_schema": {"type": "object"}}
    asked = {**ASK, "tools": [tool]}
    with gateway.anthropic().messages.stream(**asked) as streamed:
        relayed = streamed.get_final_message()
    settled(gateway)
    answer = httpx.post(gateway.url + "/v1/messages", json=asked)
    assert answer.headers["x-llmp-cache"] == "hit"
    body = answer.json()
    golden = load("response_thinking_tool_use.json")
    assert [b["type"] for b in body["content"]] == [b["type"] for b in golden["content"]]
    assert body["content"] == golden["content"]
    assert body["stop_reason"] == golden["stop_reason"] == "tool_use"
    # What the SDK added up from the relayed stream.
    assert anthropic.types.Message.model_validate(body).model_dump() == relayed.model_dump(
        exclude={"parsed_output"})
    assert upstream.count("/v1/messages") == 1


def test_translated_answers_are_cached_in_the_clients_format(make_gateway, upstream) -> None:
    """An Anthropic client served by an OpenAI provider: the hit is an Anthropic message."""
    upstream.always(reply(Golden("azure").json("chat_response.json")))
    gateway = make_gateway(openai_upstream(upstream.url))
    client = gateway.anthropic()
    asked = {**ASK, "model": "up/gpt-4o-mini"}
    first = client.messages.create(**asked)
    settled(gateway)
    with client.messages.stream(**asked) as streamed:
        replayed = streamed.get_final_message()
    assert replayed.content[0].text == first.content[0].text == "Hello! How can I help?"
    assert replayed.usage.output_tokens == first.usage.output_tokens
    assert upstream.count("/chat/completions") == 1
