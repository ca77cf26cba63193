"""The response cache through the official `openai` SDK: chat, completions, embeddings."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.daemon.cache.support import OPENAI_MODEL, entries, openai_upstream, settled, shape, sse
from tests.support.fake_upstream import FakeUpstream, fail, reply, sse_json, stream
from tests.support.golden import Golden

AZURE = Golden("azure")  # OpenAI's wire format, as Azure serves it
MESSAGES = [{"role": "user", "content": "Say hello"}]
CHAT = {"model": OPENAI_MODEL, "messages": MESSAGES}


def text_of(chunks) -> str:
    """What a streamed answer says, read by the SDK (Azure adds chunks without a delta)."""
    return "".join(c.choices[0].delta.content or "" for c in chunks
                   if c.choices and c.choices[0].delta)


def test_chat_miss_then_hit_without_asking_upstream(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(AZURE.json("chat_response.json")))
    gateway = make_gateway(openai_upstream(upstream.url))
    client = gateway.openai()
    first = client.chat.completions.with_raw_response.create(**CHAT, temperature=0.7)
    settled(gateway)
    second = client.chat.completions.with_raw_response.create(**CHAT, temperature=0.7)
    assert first.headers["x-llmp-cache"] == "miss" and "age" not in first.headers
    assert second.headers["x-llmp-cache"] == "hit" and int(second.headers["age"]) >= 0
    assert second.http_response.content == first.http_response.content  # the body as stored
    assert second.parse().choices[0].message.content == "Hello! How can I help?"
    assert second.headers["x-llmp-provider"] == "up"
    assert upstream.count("/chat/completions") == 1
    # Another parameter that changes the answer is another question.
    client.chat.completions.create(**CHAT, temperature=0.2)
    assert upstream.count("/chat/completions") == 2


def test_fields_that_do_not_change_the_answer_share_an_entry(make_gateway, upstream) -> None:
    upstream.always(reply(AZURE.json("chat_response.json")))
    gateway = make_gateway(openai_upstream(upstream.url))
    client = gateway.openai()
    client.chat.completions.create(**CHAT, user="alice", metadata={"run": "1"},
                                   prompt_cache_key="session-1", safety_identifier="user-1")
    settled(gateway)
    again = client.chat.completions.with_raw_response.create(  # other labels, other key order
        messages=MESSAGES, model=OPENAI_MODEL, user="bob", prompt_cache_key="session-2",
        safety_identifier="user-2", extra_body={"prompt_cache_retention": "24h"})
    assert again.headers["x-llmp-cache"] == "hit"
    assert upstream.count("/chat/completions") == 1


def test_a_stored_body_is_replayed_as_the_formats_full_stream(make_gateway, upstream) -> None:
    upstream.always(reply(AZURE.json("chat_response.json")))
    gateway = make_gateway(openai_upstream(upstream.url))
    gateway.openai().chat.completions.create(**CHAT)
    settled(gateway)
    with httpx.stream("POST", gateway.base_url + "/chat/completions", json={
            **CHAT, "stream": True, "stream_options": {"include_usage": True}}) as response:
        assert response.headers["x-llmp-cache"] == "hit"
        assert response.headers["content-type"].startswith("text/event-stream")
        replayed = sse(response.read())
    golden = sse(AZURE.bytes("stream_text.sse"))
    assert shape(replayed) == [*shape(golden)[:-1], "usage", "[DONE]"]
    chunks = [data for _, data in replayed if isinstance(data, dict)]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    golden_text = "".join(c["choices"][0].get("delta", {}).get("content") or ""
                          for _, c in golden if isinstance(c, dict) and c["choices"])
    assert text == golden_text == "Hello! How can I help?"
    for chunk in chunks:  # every chunk has the golden chunks' fields
        golden_chunk = golden[1][1]
        assert {"id", "object", "created", "model", "system_fingerprint", "choices"} <= set(chunk)
        assert chunk["object"] == golden_chunk["object"] and chunk["id"] == golden_chunk["id"]
    assert chunks[-1]["usage"] == AZURE.json("chat_response.json")["usage"]
    # The SDK reads the replay like any stream.
    streamed = gateway.openai().chat.completions.create(**CHAT, stream=True)
    assert text_of(streamed) == text
    assert upstream.count("/chat/completions") == 1


def test_a_stored_stream_is_replayed_as_the_whole_body(make_gateway, upstream) -> None:
    upstream.always(stream(AZURE.sse_events("stream_text.sse")))
    gateway = make_gateway(openai_upstream(upstream.url))
    streamed = gateway.openai().chat.completions.create(**CHAT, stream=True)
    assert text_of(streamed) == "Hello! How can I help?"
    settled(gateway)
    answer = gateway.openai().chat.completions.with_raw_response.create(**CHAT)
    assert answer.headers["x-llmp-cache"] == "hit"
    body = json.loads(answer.http_response.content)
    golden = AZURE.json("chat_response.json")
    for field in ("id", "object", "created", "model", "system_fingerprint"):
        assert body[field] == golden[field]
    assert body["choices"][0]["message"] == golden["choices"][0]["message"]
    assert body["choices"][0]["finish_reason"] == "stop"
    # The stream replays to a streaming client as it was relayed.
    again = gateway.openai().chat.completions.create(**CHAT, stream=True)
    assert text_of(again) == "Hello! How can I help?"
    assert upstream.count("/chat/completions") == 1


def test_usage_the_client_did_not_ask_for_stays_hidden_and_is_given_when_asked(
        make_gateway, upstream) -> None:
    usage = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}
    upstream.always(stream(sse_json([
        {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"},
                               "finish_reason": None}]},
        {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**chunk, "choices": [], "usage": usage}])))
    gateway = make_gateway(openai_upstream(upstream.url))
    first = httpx.post(gateway.base_url + "/chat/completions", json={**CHAT, "stream": True})
    assert all(d == "[DONE]" or d["choices"] for _, d in sse(first.text))
    settled(gateway)
    asked = httpx.post(gateway.base_url + "/chat/completions",
                       json={**CHAT, "stream": True, "stream_options": {"include_usage": True}})
    assert asked.headers["x-llmp-cache"] == "hit"
    assert [d for _, d in sse(asked.text)][-2]["usage"] == usage
    body = httpx.post(gateway.base_url + "/chat/completions", json=CHAT).json()
    assert body["usage"] == usage and body["choices"][0]["message"]["content"] == "Hi"


def test_legacy_completions_hit_in_both_modes(make_gateway, upstream) -> None:
    upstream.always(reply({"id": "cmpl-1", "object": "text_completion", "created": 5,
                           "model": "gpt-3.5-turbo-instruct",
                           "choices": [{"text": " world", "index": 0, "logprobs": None,
                                        "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}))
    gateway = make_gateway(openai_upstream(upstream.url))
    client = gateway.openai()
    asked = {"model": "up/gpt-3.5-turbo-instruct", "prompt": "hello", "max_tokens": 5}
    first = client.completions.with_raw_response.create(**asked)
    settled(gateway)
    second = client.completions.with_raw_response.create(**asked)
    assert (first.headers["x-llmp-cache"], second.headers["x-llmp-cache"]) == ("miss", "hit")
    assert second.parse().choices[0].text == " world"
    chunks = list(client.completions.create(**asked, stream=True))
    assert "".join(c.choices[0].text for c in chunks) == " world"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert upstream.count("/completions") == 1


def test_embeddings_hit(make_gateway, upstream) -> None:
    upstream.always(reply(AZURE.json("embeddings_response.json")))
    gateway = make_gateway(openai_upstream(upstream.url))
    client = gateway.openai()
    asked = {"model": "up/text-embedding-3-small", "input": ["a", "b"]}
    first = client.embeddings.with_raw_response.create(**asked)
    settled(gateway)
    second = client.embeddings.with_raw_response.create(**asked)
    assert (first.headers["x-llmp-cache"], second.headers["x-llmp-cache"]) == ("miss", "hit")
    assert second.parse().data[0].embedding == first.parse().data[0].embedding
    assert upstream.count("/embeddings") == 1


def test_no_cache_refreshes_and_no_store_neither_reads_nor_writes(make_gateway, upstream) -> None:
    answer = AZURE.json("chat_response.json")
    upstream.always(reply(answer))
    gateway = make_gateway(openai_upstream(upstream.url))
    client = gateway.openai()
    client.chat.completions.create(**CHAT)
    settled(gateway)
    newer = {**answer, "choices": [{**answer["choices"][0],
                                   "message": {"role": "assistant", "content": "Newer"}}]}
    upstream.always(reply(newer))
    refreshed = client.chat.completions.with_raw_response.create(
        **CHAT, extra_headers={"Cache-Control": "no-cache"})
    assert refreshed.headers["x-llmp-cache"] == "refresh"
    assert refreshed.parse().choices[0].message.content == "Newer"
    settled(gateway)
    assert client.chat.completions.create(**CHAT).choices[0].message.content == "Newer"
    assert upstream.count("/chat/completions") == 2
    other = {**CHAT, "messages": [{"role": "user", "content": "not stored"}]}
    for _ in range(2):
        skipped = client.chat.completions.with_raw_response.create(
            **other, extra_headers={"Cache-Control": "no-store"})
        assert skipped.headers["x-llmp-cache"] == "bypass"
    assert upstream.count("/chat/completions") == 4
    assert entries(gateway) == 1


def test_failed_and_truncated_answers_are_not_stored(make_gateway, upstream) -> None:
    gateway = make_gateway(openai_upstream(upstream.url))
    client = gateway.openai()
    upstream.then(fail(500))
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(**CHAT)
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}
    events = sse_json([{**chunk, "choices": [{"index": 0, "delta": {"content": "Hel"},
                                              "finish_reason": None}]},
                       {**chunk, "choices": [{"index": 0, "delta": {"content": "lo"},
                                              "finish_reason": None}]}], done=False)
    upstream.then(stream(events, drop_after=1))  # cut mid-answer
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(**CHAT, stream=True))
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"ci'}}
    cut_tool = {**AZURE.json("chat_response.json"), "choices": [{
        "index": 0, "finish_reason": "length",
        "message": {"role": "assistant", "content": None, "tool_calls": [call]}}]}
    upstream.then(reply(cut_tool))
    client.chat.completions.create(**CHAT, max_tokens=3)
    n_partial = sse_json([{**chunk, "choices": [{"index": 0, "delta": {"content": "a"},
                                                 "finish_reason": "stop"},
                                                {"index": 1, "delta": {"content": "b"},
                                                 "finish_reason": None}]}])
    upstream.then(stream(n_partial))  # n=2, the second choice never finished
    list(client.chat.completions.create(**CHAT, n=2, stream=True))
    assert entries(gateway) == 0
    upstream.always(reply(AZURE.json("chat_response.json")))
    assert client.chat.completions.with_raw_response.create(**CHAT).headers["x-llmp-cache"] == "miss"
    assert entries(gateway) == 1
