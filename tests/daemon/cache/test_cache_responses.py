"""The response cache on `/v1/responses`, through the official `openai` SDK.

A Responses answer has an id the client may name again (`previous_response_id`,
GET /v1/responses/{id}): a hit is a new response with ids of its own, kept in
the responses store like any other answer.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import httpx
from typer.testing import CliRunner

from llmp.cli.app import app
from llmp.core.paths import resolve_paths
from llmp.daemon.telemetry.hub import TELEMETRY
from tests.daemon.cache.support import OPENAI_MODEL, entries, openai_upstream, settled, sse
from tests.daemon.test_responses_relay import response_object, transcript
from tests.daemon.test_responses_sdk import chat_answer, chat_chunks
from tests.support.fake_upstream import FakeUpstream, reply, stream

PRICED = "prices:\n  up/gpt-4o-mini: {input: 2.0, output: 4.0}\n"
COST = (11 * 2.0 + 2 * 4.0) / 1_000_000  # the relayed golden answer: 11 tokens in, 2 out


def relaying(url: str, extra: str = "") -> str:
    """An upstream serving the Responses API itself (answers relayed untouched)."""
    return openai_upstream(url, extra=extra).replace("    models:", "    responses_api: true\n    models:")


def ids(response: dict[str, Any]) -> list[str]:
    return [response["id"], *(item["id"] for item in response["output"])]


def without_ids(response: dict[str, Any]) -> dict[str, Any]:
    """A response less what every answer has of its own: its ids and time."""
    output = [{name: value for name, value in item.items() if name != "id"} for item in response["output"]]
    return {**{n: v for n, v in response.items() if n not in ("id", "created_at")}, "output": output}


def test_a_hit_is_a_new_response_kept_for_retrieval_and_chaining(
        make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(chat_answer("Bonjour")))
    gateway = make_gateway(openai_upstream(upstream.url))
    client = gateway.openai()
    first = client.responses.with_raw_response.create(model=OPENAI_MODEL, input="Say hi", temperature=0.3,
                                                      metadata={"run": "1"}, user="alice")
    settled(gateway)
    second = client.responses.with_raw_response.create(model=OPENAI_MODEL, input="Say hi", temperature=0.3,
                                                       metadata={"run": "2"})
    assert first.headers["x-llmp-cache"] == "miss"
    assert second.headers["x-llmp-cache"] == "hit" and int(second.headers["age"]) >= 0
    assert upstream.count("/chat/completions") == 1
    one, two = first.parse(), second.parse()
    assert two.output_text == one.output_text == "Bonjour" and two.status == "completed"
    assert not set(ids(one.model_dump())) & set(ids(two.model_dump()))  # fresh response and item ids
    assert two.metadata == {"run": "2"} and two.user is None  # this request's own labels
    assert two.usage.input_tokens == 20 and two.usage.output_tokens == 5
    assert without_ids(two.model_dump()) == without_ids({**one.model_dump(), "metadata": {"run": "2"},
                                                         "user": None})
    assert client.responses.retrieve(two.id).output_text == "Bonjour"
    # A chain from the hit sends its whole conversation upstream.
    client.responses.create(model=OPENAI_MODEL, input="And bye?", previous_response_id=two.id)
    sent = upstream.requests[-1].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"] == "Bonjour" and sent[2]["content"] == "And bye?"


def codex_turn(session: str, text: str = "Say hi") -> dict[str, Any]:
    """A request as Codex CLI sends one: every input item numbered, and the session's id in the
    request's labels, all new on each run of the same task."""
    def message(role: str, index: int, content: str) -> dict[str, Any]:
        kind = "output_text" if role == "assistant" else "input_text"
        return {"type": "message", "id": f"msg_{session}_{index}", "role": role,
                "content": [{"type": kind, "text": content}]}

    return {"model": OPENAI_MODEL, "store": False, "stream": True, "prompt_cache_key": session,
            "safety_identifier": f"user-{session}", "client_metadata": {"session_id": session},
            "input": [message("developer", 0, "You are a coding agent."), message("user", 1, text)]}


def test_the_same_task_run_again_by_an_agent_is_a_hit(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(chat_chunks({"role": "assistant", "content": "Hi "}, {"content": "there"})))
    gateway = make_gateway(openai_upstream(upstream.url))
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        first = http.post("/v1/responses", json=codex_turn("run1"))
        settled(gateway)
        second = http.post("/v1/responses", json=codex_turn("run2"))
        other = http.post("/v1/responses", json=codex_turn("run3", "Say bye"))
    assert first.status_code == 200, first.text
    assert first.headers["x-llmp-cache"] == "miss" and second.headers["x-llmp-cache"] == "hit"
    assert other.headers["x-llmp-cache"] == "miss"
    assert upstream.count("/chat/completions") == 2
    done = [json.loads(line[6:]) for line in second.text.splitlines() if line.startswith("data: ")][-1]
    assert done["type"] == "response.completed"
    replayed = done["response"]
    assert replayed["output"][0]["content"][0]["text"] == "Hi there"
    # The hit is this request's answer: its own labels, not the first run's.
    assert (replayed["prompt_cache_key"], replayed["safety_identifier"]) == ("run2", "user-run2")


def test_an_item_named_only_by_its_id_keeps_it_in_the_key(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(response_object("Hi")))
    gateway = make_gateway(relaying(upstream.url))
    client = gateway.openai()
    for name in ("item_reference", "reasoning"):
        for item_id in ("one", "two"):  # another item each time: never the same question
            item = {"type": name, "id": f"{name}_{item_id}"}
            if name == "reasoning":
                item["summary"] = []  # no encrypted content: the upstream looks it up by its id
            answer = client.responses.with_raw_response.create(
                model=OPENAI_MODEL, input=[item, {"role": "user", "content": "go on"}])
            settled(gateway)
            assert answer.headers["x-llmp-cache"] == "miss", (name, item_id)


def test_a_stored_body_is_replayed_as_the_full_event_sequence(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(response_object("Hello there")))
    gateway = make_gateway(relaying(upstream.url))
    stored = gateway.openai().responses.create(model=OPENAI_MODEL, input="hi")
    settled(gateway)
    with httpx.stream("POST", gateway.base_url + "/responses",
                      json={"model": OPENAI_MODEL, "input": "hi", "stream": True}) as answer:
        assert answer.headers["x-llmp-cache"] == "hit"
        assert answer.headers["content-type"].startswith("text/event-stream")
        replayed = sse(answer.read())
    golden = sse(b"".join(transcript("Hello there")))
    assert [name for name, _ in replayed] == [name for name, _ in golden]
    fresh = replayed[-1][1]["response"]
    assert fresh["id"] != stored.id and fresh["output"][0]["id"] != "msg_1"
    renamed = {fresh["id"]: "resp_upstream1", fresh["output"][0]["id"]: "msg_1"}
    for (name, seen), (_, expected) in zip(replayed, golden, strict=True):
        assert set(seen) == set(expected), name  # every field the golden event has, and no other
        assert seen["sequence_number"] == expected["sequence_number"]
        if "item_id" in seen:
            assert renamed[seen["item_id"]] == expected["item_id"]
        for field in ("delta", "text", "part", "output_index", "content_index"):
            assert seen.get(field) == expected.get(field), (name, field)
        if "response" in seen:
            assert without_ids(seen["response"]) == without_ids(expected["response"])
            assert seen["response"]["id"] == fresh["id"]
        if "item" in seen:
            assert renamed[seen["item"]["id"]] == "msg_1"
            assert {**seen["item"], "id": "msg_1"} == expected["item"]
    assert upstream.count("/responses") == 1
    # The SDK reads the replay like any stream, and the replayed response can be retrieved.
    with gateway.openai().responses.stream(model=OPENAI_MODEL, input="hi") as events:
        final = events.get_final_response()
    assert final.output_text == "Hello there" and final.usage.total_tokens == 13
    assert gateway.openai().responses.retrieve(final.id).output_text == "Hello there"
    assert upstream.count("/responses") == 1


def test_a_stored_stream_is_replayed_as_the_whole_body(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(transcript("Hello there")))
    gateway = make_gateway(relaying(upstream.url))
    with gateway.openai().responses.stream(model=OPENAI_MODEL, input="hi") as events:
        assert events.get_final_response().output_text == "Hello there"
    settled(gateway)
    answer = httpx.post(gateway.base_url + "/responses", json={"model": OPENAI_MODEL, "input": "hi"})
    assert answer.headers["x-llmp-cache"] == "hit"
    body = answer.json()
    assert without_ids(body) == without_ids(response_object("Hello there"))
    assert body["id"].startswith("resp_") and body["id"] != "resp_upstream1"
    assert gateway.openai().responses.retrieve(body["id"]).output_text == "Hello there"
    assert upstream.count("/responses") == 1


def test_a_translated_stream_replays_to_a_streaming_client_with_new_ids(
        make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(stream(chat_chunks({"role": "assistant", "content": "Hel"}, {"content": "lo"})))
    gateway = make_gateway(openai_upstream(upstream.url))
    client = gateway.openai()
    with client.responses.stream(model=OPENAI_MODEL, input="hi") as events:
        first = events.get_final_response()
    settled(gateway)
    with client.responses.stream(model=OPENAI_MODEL, input="hi") as events:
        kinds = [event.type for event in events]
        second = events.get_final_response()
    assert second.output_text == first.output_text == "Hello"
    assert second.id != first.id and second.output[0].id != first.output[0].id
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert second.usage.input_tokens == 9 and second.usage.output_tokens == 4
    assert upstream.count("/chat/completions") == 1
    plain = client.responses.with_raw_response.create(model=OPENAI_MODEL, input="hi")
    assert plain.headers["x-llmp-cache"] == "hit" and plain.parse().output_text == "Hello"


def test_no_cache_refreshes_and_no_store_bypasses(make_gateway, upstream: FakeUpstream) -> None:
    upstream.then(reply(chat_answer("one")), reply(chat_answer("two")), reply(chat_answer("three")))
    gateway = make_gateway(openai_upstream(upstream.url))
    client = gateway.openai().responses.with_raw_response
    assert client.create(model=OPENAI_MODEL, input="q").parse().output_text == "one"
    settled(gateway)
    refreshed = client.create(model=OPENAI_MODEL, input="q", extra_headers={"Cache-Control": "no-cache"})
    assert refreshed.headers["x-llmp-cache"] == "refresh" and refreshed.parse().output_text == "two"
    settled(gateway)
    bypass = client.create(model=OPENAI_MODEL, input="q", extra_headers={"Cache-Control": "no-store"})
    assert bypass.headers["x-llmp-cache"] == "bypass" and bypass.parse().output_text == "three"
    settled(gateway)
    hit = client.create(model=OPENAI_MODEL, input="q", extra_headers={"x-llmp-cache-ttl": "3600"})
    assert hit.headers["x-llmp-cache"] == "hit" and hit.parse().output_text == "two"
    assert upstream.count() == 3


def test_only_complete_answers_are_stored(make_gateway, upstream: FakeUpstream) -> None:
    cut_short = chat_answer("Bon")
    cut_short["choices"][0]["finish_reason"] = "length"
    failed = [*transcript("Hi")[:-1],
              b'event: response.failed\ndata: {"type":"response.failed","sequence_number":8,'
              b'"response":{"id":"resp_upstream1","object":"response","status":"failed","output":[],'
              b'"error":{"code":"server_error","message":"boom"}}}\n\n']
    upstream.then(reply(response_object("Hi", status="incomplete")), stream(transcript("Hi")[:-1]),
                  stream(failed))
    gateway = make_gateway(relaying(upstream.url))
    for asked in ({"input": "a"}, {"input": "b", "stream": True}, {"input": "c", "stream": True}):
        httpx.post(gateway.base_url + "/responses", json={"model": OPENAI_MODEL, **asked})
    assert entries(gateway) == 0
    gateway.stop()
    upstream.then(reply(cut_short))
    translated = make_gateway(openai_upstream(upstream.url))
    answer = translated.openai().responses.create(model=OPENAI_MODEL, input="d")
    assert answer.status == "incomplete" and entries(translated) == 0


def test_a_chain_is_keyed_by_its_history_and_an_unknown_one_is_not_cached(
        make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(response_object("Hi")))
    gateway = make_gateway(relaying(upstream.url))
    client = gateway.openai()
    base = client.responses.create(model=OPENAI_MODEL, input="first", store=True,
                                   extra_headers={"Cache-Control": "no-store"})
    assert base.id == "resp_upstream1"  # relayed: the upstream holds it, llmp does not
    unknown = client.responses.with_raw_response.create(model=OPENAI_MODEL, input="next",
                                                        previous_response_id=base.id)
    assert unknown.headers["x-llmp-cache"] == "bypass"
    # A conversation llmp holds: the same follow-up to the same response is the same question.
    held = client.responses.create(model=OPENAI_MODEL, input="first")  # a miss, then replayed
    settled(gateway)
    copy = client.responses.create(model=OPENAI_MODEL, input="first")
    assert copy.id != held.id
    chained = client.responses.with_raw_response.create(model=OPENAI_MODEL, input="next",
                                                        previous_response_id=copy.id)
    assert chained.headers["x-llmp-cache"] == "miss"
    settled(gateway)
    asked = upstream.count("/responses")
    again = client.responses.with_raw_response.create(model=OPENAI_MODEL, input="next",
                                                      previous_response_id=copy.id)
    assert again.headers["x-llmp-cache"] == "hit" and upstream.count("/responses") == asked
    assert again.parse().previous_response_id == copy.id
    other = client.responses.with_raw_response.create(model=OPENAI_MODEL, input="other",
                                                      previous_response_id=copy.id)
    assert other.headers["x-llmp-cache"] == "miss"


def test_ledger_rows_and_usage_figures_for_a_hit(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(response_object("Hi")))
    gateway = make_gateway(relaying(upstream.url, PRICED))
    client = gateway.openai()
    client.responses.create(model=OPENAI_MODEL, input="hi")
    settled(gateway)
    with client.responses.stream(model=OPENAI_MODEL, input="hi") as events:
        events.get_final_response()
    settled(gateway)
    assert gateway.server.app[TELEMETRY].flush()
    db = sqlite3.connect(resolve_paths().usage_db)
    rows = db.execute("SELECT operation, cache_result, cache_hit, cost, cost_saved, tokens_in, tokens_out,"
                      " streamed FROM requests ORDER BY id").fetchall()
    assert rows == [("responses", "miss", 0, COST, None, 11, 2, 0),
                    ("responses", "hit", 1, 0.0, COST, 11, 2, 1)]
    usage = CliRunner().invoke(app, ["usage", "--json"])
    assert usage.exit_code == 0, usage.output
    total = json.loads(usage.output)["total"]
    assert (total["requests"], total["cache_hits"], total["cache_lookups"]) == (2, 1, 2)
    assert total["hit_rate"] == 0.5 and round(total["saved"], 10) == round(COST, 10)
