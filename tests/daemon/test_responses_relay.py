"""`/v1/responses` relayed untouched to an upstream that serves the Responses API itself."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx

from llmp.daemon.telemetry.hub import TELEMETRY
from tests.daemon.test_openai_sdk import openai_config
from tests.support.fake_upstream import FakeUpstream, reply, stream

RELAYING = "    responses_api: true\n"


def relaying_config(url: str) -> str:
    return openai_config(url).replace("    models:", RELAYING + "    models:")


def response_object(text: str, status: str = "completed") -> dict[str, Any]:
    return {"id": "resp_upstream1", "object": "response", "created_at": 1, "status": status,
            "model": "gpt-4o-mini-2024-07-18", "output": [
                {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                 "content": [{"type": "output_text", "text": text, "annotations": []}]}],
            "usage": {"input_tokens": 11, "input_tokens_details": {"cached_tokens": 3},
                      "output_tokens": 2, "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": 13}}


def transcript(text: str) -> list[bytes]:
    """An OpenAI Responses stream, event by event, as OpenAI writes it."""
    done = response_object(text)
    started = {**done, "status": "in_progress", "output": [], "usage": None}
    item = done["output"][0]
    events = [
        ("response.created", {"response": started}),
        ("response.in_progress", {"response": started}),
        ("response.output_item.added", {"output_index": 0, "item": {**item, "content": [],
                                                                    "status": "in_progress"}}),
        ("response.content_part.added", {"item_id": "msg_1", "output_index": 0, "content_index": 0,
                                         "part": {"type": "output_text", "text": "", "annotations": []}}),
        ("response.output_text.delta", {"item_id": "msg_1", "output_index": 0, "content_index": 0,
                                        "delta": text, "logprobs": []}),
        ("response.output_text.done", {"item_id": "msg_1", "output_index": 0, "content_index": 0,
                                       "text": text, "logprobs": []}),
        ("response.content_part.done", {"item_id": "msg_1", "output_index": 0, "content_index": 0,
                                        "part": item["content"][0]}),
        ("response.output_item.done", {"output_index": 0, "item": item}),
        ("response.completed", {"response": done}),
    ]
    return [f"event: {name}\ndata: {json.dumps({'type': name, 'sequence_number': n, **data})}\n\n".encode()
            for n, (name, data) in enumerate(events)]


def test_plain_answer_is_relayed_untouched(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(response_object("Hi")))
    gateway = make_gateway(relaying_config(upstream.url))
    body = {"model": "up/gpt-4o-mini", "input": "hi", "tools": [{"type": "web_search"}],
            "include": ["reasoning.encrypted_content"], "store": True}
    answer = httpx.post(gateway.base_url + "/responses", json=body)
    assert answer.json() == response_object("Hi")
    sent = upstream.requests[-1]
    assert sent.path == "/v1/responses" and sent.json == {**body, "model": "gpt-4o-mini"}
    assert "x-llmp-dropped-tools" not in answer.headers  # the upstream runs its own built-in tools


def test_stream_is_relayed_byte_for_byte_and_read_by_the_sdk(make_gateway, upstream: FakeUpstream) -> None:
    events = transcript("Hello there")
    upstream.always(stream(events))
    gateway = make_gateway(relaying_config(upstream.url))
    with httpx.stream("POST", gateway.base_url + "/responses",
                      json={"model": "up/gpt-4o-mini", "input": "hi", "stream": True}) as response:
        assert response.read() == b"".join(events)
    with gateway.openai().responses.stream(model="up/gpt-4o-mini", input="hi") as seen:
        assert seen.get_final_response().output_text == "Hello there"


def test_a_stream_cut_before_its_terminal_event_is_an_error(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(transcript("Hello")[:-1]))
    gateway = make_gateway(relaying_config(upstream.url))
    answer = httpx.post(gateway.base_url + "/responses",
                        json={"model": "up/gpt-4o-mini", "input": "hi", "stream": True})
    assert answer.content.startswith(b"".join(transcript("Hello")[:-1]))
    last = answer.content.rstrip().rsplit(b"\n\n", 1)[-1]
    assert last.startswith(b"event: error\ndata: ")
    assert json.loads(last.split(b"data: ", 1)[1])["code"] == "incomplete"


def test_upstream_ids_pass_and_llmps_own_are_expanded(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(response_object("Hi")))
    gateway = make_gateway(relaying_config(upstream.url))
    answer = httpx.post(gateway.base_url + "/responses", json={
        "model": "up/gpt-4o-mini", "input": "again", "previous_response_id": "resp_upstream1"})
    assert answer.status_code == 200
    assert upstream.requests[-1].json["previous_response_id"] == "resp_upstream1"


MIXED = """
providers:
  mock: {type: mock, models: [mock-1]}
  up:
    type: openai
    base_url: URL/v1
    api_key: sk-test-upstream-key-123456
    responses_api: true
    models: [gpt-4o-mini]
"""


def test_a_conversation_llmp_holds_goes_to_a_relaying_upstream_in_full(
    make_gateway, upstream: FakeUpstream
) -> None:
    upstream.always(reply(response_object("Relayed")))
    client = make_gateway(MIXED.replace("URL", upstream.url)).openai()
    first = client.responses.create(model="mock/mock-1", input="echo me")
    client.responses.create(model="up/gpt-4o-mini", input="next", previous_response_id=first.id)
    sent = upstream.requests[-1].json
    assert "previous_response_id" not in sent
    assert [item.get("role") for item in sent["input"]] == ["user", "assistant", "user"]
    assert sent["input"][1]["content"][0]["text"] == "echo me"


def test_ledger_rows_for_translated_and_relayed_answers(make_gateway, upstream: FakeUpstream,
                                                        isolated_env: Path) -> None:
    upstream.then(reply(response_object("Hi")), stream(transcript("Hello")))
    gateway = make_gateway(MIXED.replace("URL", upstream.url))
    client = gateway.openai()
    client.responses.create(model="up/gpt-4o-mini", input="hi")
    with client.responses.stream(model="up/gpt-4o-mini", input="hi") as events:
        events.get_final_response()
    client.responses.create(model="mock/mock-1", input="one two three")
    gateway.wait_idle()
    assert gateway.server.app[TELEMETRY].flush()
    db = sqlite3.connect(isolated_env / "usage.sqlite3")
    found = db.execute("SELECT operation, inbound, provider, tokens_in, tokens_out, tokens_cached, estimated "
                       "FROM requests ORDER BY id").fetchall()
    assert found[:2] == [("responses", "responses", "up", 11, 2, 3, 0)] * 2
    assert found[2][:3] == ("responses", "responses", "mock") and found[2][6] == 0
