"""The usage ledger: one row per request, with the provider's own usage and the priced cost."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from llmp.cli.app import app
from llmp.cli.tables import money
from llmp.core.usage_db import connect
from llmp.daemon.telemetry import live_stats
from llmp.daemon.telemetry.hub import TELEMETRY
from llmp.daemon.telemetry.prices import PriceTable
from tests.daemon.telemetry.upstream_data import (
    COMPLETION,
    COST,
    USAGE,
    gateway_config,
    stream_events,
)
from tests.support.fake_upstream import FakeUpstream, fail, reply, stream

MOCK = "providers:\n  mock: {type: mock, models: [mock-1]}\n"


def rows(home: Path) -> list[dict]:
    db = sqlite3.connect(home / "usage.sqlite3")
    db.row_factory = sqlite3.Row
    found = [dict(row) for row in db.execute("SELECT * FROM requests ORDER BY id")]
    db.close()
    return found


def flush(gateway) -> None:
    """Write out the ledger once every request has been recorded."""
    gateway.wait_idle()
    assert gateway.server.app[TELEMETRY].flush()


def test_rows_and_costs_follow_the_upstream_usage(make_gateway, upstream: FakeUpstream,
                                                  isolated_env: Path) -> None:
    upstream.then(reply(COMPLETION), stream(stream_events()))
    gateway = make_gateway(gateway_config(upstream.url))
    client = gateway.openai()
    messages = [{"role": "user", "content": "hi"}]
    plain = client.chat.completions.with_raw_response.create(model="fast", messages=messages)
    streamed = client.chat.completions.with_raw_response.create(
        model="fast", messages=messages, stream=True)
    list(streamed.parse())
    flush(gateway)
    first, second = rows(isolated_env)
    for row, response, was_streamed in ((first, plain, 0), (second, streamed, 1)):
        assert row["request_id"] == response.headers["x-request-id"]
        assert (row["alias"], row["provider"], row["model"], row["requested_model"]) == (
            "fast", "up", "gpt-4o-mini", "fast")
        assert (row["tokens_in"], row["tokens_out"], row["tokens_cached"], row["estimated"]) == (
            USAGE["prompt_tokens"], USAGE["completion_tokens"], 4, 0)
        assert row["cost"] == pytest.approx(COST)
        assert (row["status"], row["error_class"], row["attempts"], row["streamed"]) == (
            200, None, 1, was_streamed)
        assert 0 < row["ttft_ms"] <= row["latency_ms"]
        assert abs(row["ts"] - time.time()) < 60
        assert row["operation"] == "chat" and row["inbound"] == "openai"


def _usage_split_across_reads() -> list[bytes]:
    events = stream_events()
    usage_event = events[-2]
    return [*events[:-2], usage_event[:40], usage_event[40:], events[-1]]


@pytest.mark.parametrize("writes", [
    _usage_split_across_reads(),  # as a real network may deliver it
    [b"".join(stream_events())],  # one read holding the whole answer, as under load
    [b"".join(stream_events()).replace(b"\n", b"\r\n")],
], ids=["usage-split", "one-read", "one-read-crlf"])
def test_stream_usage_is_asked_for_and_hidden_from_a_client_that_did_not(
        make_gateway, upstream: FakeUpstream, isolated_env: Path, writes: list[bytes]) -> None:
    upstream.then(stream(writes), stream(stream_events()))
    gateway = make_gateway(gateway_config(upstream.url))
    body = {"model": "fast", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.stream("POST", gateway.base_url + "/chat/completions", json=body) as response:
        text = "".join(response.iter_text())
    assert upstream.requests[0].json["stream_options"] == {"include_usage": True}
    data = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    assert all(json.loads(d)["choices"] for d in data[:-1])  # no usage-only event
    assert len(data) == 5

    asked = {**body, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", gateway.base_url + "/chat/completions", json=asked) as response:
        text = "".join(response.iter_text())
    assert upstream.requests[1].json["stream_options"] == {"include_usage": True}
    assert json.loads(text.split("data: ")[-2])["usage"] == USAGE  # the client asked: it gets it
    flush(gateway)
    assert [(r["tokens_in"], r["tokens_out"], r["estimated"]) for r in rows(isolated_env)] == [
        (9, 3, 0), (9, 3, 0)]


def test_stream_usage_off_per_provider_sends_the_body_untouched(
        make_gateway, upstream: FakeUpstream, isolated_env: Path) -> None:
    upstream.always(stream(stream_events(with_usage=False)))
    config = gateway_config(upstream.url).replace(
        "models: [gpt-4o-mini, text-embedding-3-small]",
        "models: [gpt-4o-mini, text-embedding-3-small]\n    stream_usage: false")
    gateway = make_gateway(config)
    content = "one two three four five six seven eight"  # 39 characters: 10 tokens estimated
    list(gateway.openai().chat.completions.create(
        model="fast", stream=True, messages=[{"role": "user", "content": content}]))
    assert "stream_options" not in upstream.requests[0].json
    flush(gateway)
    [row] = rows(isolated_env)
    assert (row["tokens_in"], row["tokens_out"], row["estimated"]) == (10, 2, 1)
    assert row["cost"] == pytest.approx((10 * 1.0 + 2 * 2.0) / 1_000_000)


def test_an_answer_without_usage_is_estimated(make_gateway, upstream: FakeUpstream,
                                              isolated_env: Path) -> None:
    answer = {**COMPLETION, "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": "x" * 40}}]}
    del answer["usage"]
    upstream.always(reply(answer))
    gateway = make_gateway(gateway_config(upstream.url))
    gateway.openai().chat.completions.create(model="fast", messages=[{"role": "user", "content": "y" * 17}])
    flush(gateway)
    [row] = rows(isolated_env)
    assert (row["tokens_in"], row["tokens_out"], row["tokens_cached"], row["estimated"]) == (5, 10, 0, 1)


def test_unknown_price_leaves_cost_empty_and_shipped_prices_apply(
        make_gateway, upstream: FakeUpstream, isolated_env: Path) -> None:
    upstream.always(reply(COMPLETION))
    config = f"""
providers:
  up:
    type: openai
    base_url: "{upstream.url}/v1"
    api_key: none
    models: [gpt-4o-mini-2024-07-18, homemade]
"""
    gateway = make_gateway(config)
    client = gateway.openai()
    for model in ("gpt-4o-mini-2024-07-18", "homemade"):
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
    flush(gateway)
    shipped, unknown = rows(isolated_env)
    shipped_price = json.loads((Path(__file__).parents[3] / "src/llmp/data/prices.json").read_text())
    price = shipped_price["models"]["gpt-4o-mini"]
    assert shipped["cost"] == pytest.approx(
        (5 * price["input"] + 4 * price["cached_input"] + 3 * price["output"]) / 1_000_000)
    assert unknown["cost"] is None and unknown["tokens_in"] == 9


def test_mock_and_errors_are_rows_too(make_gateway, isolated_env: Path) -> None:
    gateway = make_gateway(MOCK)
    client = gateway.openai()
    client.chat.completions.create(model="mock-1", messages=[{"role": "user", "content": "a b c"}])
    httpx.post(gateway.base_url + "/chat/completions",
               json={"model": "mock-1", "messages": [{"role": "user", "content": "x"}],
                     "mock": {"fail_status": 503}})
    flush(gateway)
    ok, failed = rows(isolated_env)
    assert (ok["provider"], ok["tokens_in"], ok["tokens_out"], ok["cost"], ok["estimated"]) == (
        "mock", 3, 3, 0.0, 0)  # a provider on this machine costs nothing
    assert (failed["status"], failed["error_class"], failed["tokens_in"], failed["cost"]) == (
        503, "overloaded", 0, None)


def test_old_rows_are_pruned_at_start(make_gateway, isolated_env: Path) -> None:
    db = connect(isolated_env / "usage.sqlite3")
    old, recent = time.time() - 40 * 86400, time.time() - 5 * 86400
    for ts, request_id in ((old, "old"), (recent, "recent")):
        db.execute("INSERT INTO requests (ts, request_id, status) VALUES (?, ?, 200)", (ts, request_id))
    db.close()
    gateway = make_gateway(MOCK + "usage:\n  retention_days: 30\n")
    flush(gateway)
    assert [r["request_id"] for r in rows(isolated_env)] == ["recent"]


def test_usage_disabled_writes_nothing(make_gateway, isolated_env: Path) -> None:
    gateway = make_gateway(MOCK + "usage:\n  enabled: false\n")
    gateway.openai().chat.completions.create(model="mock-1", messages=[{"role": "user", "content": "x"}])
    assert gateway.server.app[TELEMETRY].ledger is None
    assert not (isolated_env / "usage.sqlite3").exists()


def test_bodies_only_when_asked_and_redacted(make_gateway, isolated_env: Path) -> None:
    secret = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
    message = [{"role": "user", "content": f"my key is {secret} ok"}]
    quiet = make_gateway(MOCK)
    quiet.openai().chat.completions.create(model="mock-1", messages=message)
    flush(quiet)
    db = sqlite3.connect(isolated_env / "usage.sqlite3")
    assert db.execute("SELECT COUNT(*) FROM bodies").fetchone() == (0,)

    loud = make_gateway(MOCK + "usage:\n  log_bodies: true\n")
    answer = loud.openai().chat.completions.with_raw_response.create(model="mock-1", messages=message)
    flush(loud)
    request_id, request, response = db.execute(
        "SELECT request_id, request, response FROM bodies").fetchone()
    assert request_id == answer.headers["x-request-id"]
    assert secret not in request and secret not in response
    assert "my key is sk-…6789 ok" in json.loads(request)["messages"][0]["content"]
    assert json.loads(response)["choices"][0]["message"]["content"] == "my key is sk-…6789 ok"


def test_live_stats_show_recent_requests(make_gateway) -> None:
    gateway = make_gateway(MOCK)
    client = gateway.openai()
    ids = [client.chat.completions.with_raw_response.create(
        model="mock-1", messages=[{"role": "user", "content": "x"}]).headers["x-request-id"]
        for _ in range(3)]
    httpx.post(gateway.base_url + "/chat/completions",
               json={"model": "mock-1", "messages": [{"role": "user", "content": "x"}],
                     "mock": {"fail_status": 500}})
    stats = httpx.get(gateway.url + "/admin/stats", headers=gateway.admin_headers()).json()
    assert stats["requests"] == 4 and stats["in_flight"] == 0
    assert stats["requests_in_window"] == 4 and stats["error_rate"] == 0.25
    assert stats["rps"] > 0
    assert stats["latency_p50_ms"] <= stats["latency_p95_ms"]
    assert [r["request_id"] for r in stats["recent"][1:]] == ids[::-1]
    assert stats["recent"][0]["status"] == 500
    assert httpx.get(gateway.url + "/admin/stats").status_code == 401


def test_live_stats_count_the_newest_requests_past_the_samples_kept(
        make_gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_stats, "MAX_SAMPLES", 4)
    gateway = make_gateway(MOCK + "defaults:\n  retry: {attempts: 0}\n")
    body = {"model": "mock-1", "messages": [{"role": "user", "content": "x"}]}
    with httpx.Client(base_url=gateway.base_url, timeout=30) as client:
        for _ in range(5):  # the oldest samples: every one failed
            assert client.post("/chat/completions", json={**body, "mock": {"fail_status": 400}}
                               ).status_code == 400
        for stream in (False, True, False):
            assert client.post("/chat/completions", json={**body, "stream": stream}).status_code == 200
    stats = httpx.get(gateway.url + "/admin/stats", headers=gateway.admin_headers()).json()
    assert stats["requests"] == 8
    # The four newest: three answered, one failed; first bytes only where one was sent.
    assert stats["requests_in_window"] == 4 and stats["error_rate"] == 0.25
    assert stats["ttft_p50_ms"] is not None
    assert stats["latency_p50_ms"] <= stats["latency_p95_ms"]


def test_llmp_usage_totals_match_the_rows(make_gateway, upstream: FakeUpstream,
                                          isolated_env: Path) -> None:
    upstream.always(reply(COMPLETION))
    gateway = make_gateway(gateway_config(upstream.url))
    client = gateway.openai()
    for model in ("fast", "fast", "other"):
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
    flush(gateway)
    stored = rows(isolated_env)
    runner = CliRunner()
    result = runner.invoke(app, ["usage", "--by", "alias", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["total"]["requests"] == len(stored) == 3
    assert report["total"]["tokens_in"] == sum(r["tokens_in"] for r in stored)
    assert report["total"]["tokens_out"] == sum(r["tokens_out"] for r in stored)
    assert report["total"]["cost"] == pytest.approx(sum(r["cost"] for r in stored))
    assert {r["name"]: r["requests"] for r in report["rows"]} == {"fast": 2, "other": 1}

    table = runner.invoke(app, ["usage", "--by", "provider"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "up" in table.output and "total" in table.output
    assert money(3 * COST) in table.output  # rounded for people: $0.00004
    wide = runner.invoke(app, ["usage", "--by", "provider", "--wide"], env={"COLUMNS": "200"})
    assert f"${3 * COST:.8f}".rstrip("0") in wide.output  # --wide: the exact figure
    csv_text = runner.invoke(app, ["usage", "--csv", "--by", "day"]).output.splitlines()
    assert csv_text[0].startswith("day,requests") and csv_text[-1].startswith("total,3,0,27,9,12,")
    future = runner.invoke(app, ["usage", "--since", "2999-01-01", "--json"])
    assert json.loads(future.output)["total"]["requests"] == 0
    bad = runner.invoke(app, ["usage", "--since", "yesterday"])
    assert bad.exit_code != 0 and "neither a duration" in bad.output


def test_llmp_usage_without_a_ledger_says_so() -> None:
    result = CliRunner().invoke(app, ["usage"])
    assert result.exit_code == 1 and "no usage recorded yet" in result.output


def test_a_server_that_rejects_stream_options_is_asked_again_without(
        make_gateway, upstream: FakeUpstream, isolated_env: Path) -> None:
    rejection = {"error": {"message": "Unrecognized request argument supplied: stream_options",
                           "type": "invalid_request_error", "param": None, "code": None}}
    upstream.then(fail(400, rejection), stream(stream_events(with_usage=False)))
    gateway = make_gateway(gateway_config(upstream.url))
    parts = [e.choices[0].delta.content for e in gateway.openai().chat.completions.create(
        model="fast", stream=True, messages=[{"role": "user", "content": "hi"}])]
    assert "".join(p or "" for p in parts) == "Hello"
    first, second = (r.json for r in upstream.requests)
    assert first["stream_options"] == {"include_usage": True} and "stream_options" not in second
    flush(gateway)
    [row] = rows(isolated_env)
    assert (row["status"], row["attempts"], row["estimated"]) == (200, 1, 1)


def test_a_negative_token_count_is_recorded_as_none(make_gateway, upstream: FakeUpstream,
                                                    isolated_env: Path) -> None:
    upstream.always(reply({**COMPLETION, "usage": {**USAGE, "completion_tokens": -7}}))
    gateway = make_gateway(gateway_config(upstream.url))
    gateway.openai().chat.completions.create(model="fast", messages=[{"role": "user", "content": "x"}])
    flush(gateway)
    [row] = rows(isolated_env)
    assert (row["tokens_in"], row["tokens_out"]) == (USAGE["prompt_tokens"], 0)
    metrics = httpx.get(gateway.url + "/metrics").text
    assert 'llmp_tokens_total{direction="output",model="gpt-4o-mini",provider="up"} 0.0' in metrics


def test_a_request_whose_telemetry_fails_costs_only_its_own_row(
        make_gateway, isolated_env: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """Telemetry is settled in batches: a bug on one request must not take its batch with it."""
    real_cost = PriceTable.cost

    def cost(self: PriceTable, provider: str | None, model: str | None, tokens: object) -> float | None:
        if model == "mock-2":
            raise RuntimeError("a bug in pricing")
        return real_cost(self, provider, model, tokens)

    monkeypatch.setattr(PriceTable, "cost", cost)
    gateway = make_gateway("providers:\n  mock: {type: mock, models: [mock-1, mock-2]}\n")
    client = gateway.openai()
    ids = [client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "hi"}]).headers["x-request-id"]
        for model in ("mock-1", "mock-2", "mock-1")]
    with caplog.at_level(logging.ERROR, logger="llmp.telemetry"):
        flush(gateway)
    assert [row["request_id"] for row in rows(isolated_env)] == [ids[0], ids[2]]
    [failure] = [r for r in caplog.records if r.name == "llmp.telemetry"]
    assert failure.getMessage() == f"telemetry for request {ids[1]} failed"
    assert failure.exc_info is not None and str(failure.exc_info[1]) == "a bug in pricing"
