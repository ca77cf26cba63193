"""The access line and the request id, read back from the daemon's real JSON log file."""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from llmp.core.config_schema import LoggingConfig
from llmp.core.redact import register_secret
from llmp.daemon.context import RequestContext
from llmp.daemon.telemetry.access_log import AccessLog
from llmp.daemon.telemetry.log_queue import Writer
from llmp.daemon.telemetry.record import finished as finished_record
from llmp.daemon.telemetry.usage import Tokens
from tests.daemon.anthropic_fixtures import config, events
from tests.daemon.routing_support import MODEL, healthy, two_providers, wait_until
from tests.daemon.telemetry.upstream_data import COMPLETION, COST, gateway_config, stream_events
from tests.support.clock import ManualClock
from tests.support.fake_upstream import FakeUpstream, fail, reply, stream
from tests.support.json_log import JsonLog, json_log


@pytest.fixture
def log_file(tmp_path: Path):
    with json_log(tmp_path / "llmp.log") as log:
        yield log


def access_lines(log: JsonLog) -> list[dict]:
    return [r for r in log.records() if r["logger"] == "llmp.access"]


def finished(**changes: object) -> RequestContext:
    ctx = RequestContext(request_id="req_1", inbound="anthropic", operation="chat",
                         requested_model="smart", stream=True, alias="smart", provider="up",
                         model="m-1", attempts=2, status=502, error_kind="upstream_error",
                         client_key="team-a")
    ctx.first_byte_at, ctx.finished_at = ctx.started + 0.25, ctx.started + 0.5
    for name, value in changes.items():
        setattr(ctx, name, value)
    return ctx


FIELDS = {
    "request_id": "req_1", "inbound": "anthropic", "operation": "chat", "requested_model": "smart",
    "alias": "smart", "provider": "up", "model": "m-1", "status": 502, "error_class": "upstream_error",
    "latency_ms": 500.0, "ttft_ms": 250.0, "tokens_in": 9, "tokens_out": 3, "tokens_cached": 4,
    "tokens_estimated": True, "cost_usd": 0.5, "attempts": 2, "streamed": True, "client_key": "team-a",
    "failures": None}
MESSAGE = "chat smart -> up/m-1 502 500.0ms 9->3 tok~ $0.500000 stream 2 attempts upstream_error"


def test_access_line_keys_and_values(log_file: JsonLog) -> None:
    """The line the writer thread renders from the values the loop queued: every key, in order."""
    AccessLog().requests_finished([finished_record(finished(), Tokens(9, 3, 4, estimated=True), 0.5)])
    [line] = access_lines(log_file)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line.pop("ts"))
    assert list(line.items()) == [("level", "info"), ("logger", "llmp.access"), ("msg", MESSAGE),
                                  *FIELDS.items()]


def test_dropped_tools_are_named_in_the_access_line(log_file: JsonLog) -> None:
    ctx = finished(dropped_tools="web_search, image_generation", operation="responses")
    AccessLog().requests_finished([finished_record(ctx, Tokens(9, 3, 4), None)])
    [line] = access_lines(log_file)
    assert line["dropped_tools"] == "web_search, image_generation"
    assert line["msg"].endswith("[dropped tools: web_search, image_generation]")


def test_without_the_daemons_logging_the_access_line_is_a_record(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="llmp.access"):
        AccessLog().requests_finished([finished_record(finished(), Tokens(9, 3, 4, estimated=True), 0.5)])
    [record] = caplog.records
    assert record.getMessage() == MESSAGE
    assert {name: getattr(record, name) for name in FIELDS} == FIELDS


def test_access_line_masks_secrets_and_survives_a_value_json_refuses(log_file: JsonLog) -> None:
    register_secret("team/secret-with-no-shape-42")
    access = AccessLog()
    masked_ctx = finished(request_id="Bearer abcdefghijklmnopqrstuvwxyz", provider="team",
                          model="secret-with-no-shape-42")
    access.requests_finished([  # one batch: the line JSON refuses costs only itself
        finished_record(masked_ctx, None, None),
        finished_record(finished(request_id="bad-\udcff"), None, None),  # not UTF-8: not written
        finished_record(finished(request_id="after"), None, None),
    ])
    masked, after = access_lines(log_file)
    assert masked["request_id"] == "Bearer abc…wxyz"
    assert "-> tea…e-42 502" in masked["msg"]  # provider/model: a registered key only together
    assert after["request_id"] == "after"
    text = log_file.path.read_text("utf-8")
    assert "abcdefghijklmnopqrstuvwxyz" not in text and "team/secret-with-no-shape-42" not in text


def test_a_key_in_any_free_text_field_is_masked_in_every_field_of_its_line(log_file: JsonLog) -> None:
    """The model a client asked for, the client's name and a failed attempt can quote a key: the
    whole line is masked, and the batch's other lines are left as they are."""
    key = "sk-abcdefghijklmnopqrstuvwxyz012345"
    AccessLog().requests_finished([
        finished_record(finished(requested_model=key, model=key), None, None),
        finished_record(finished(client_key=f"Bearer {key}"), None, None),
        finished_record(finished(failures=[f"up/{key}: overloaded"]), None, None),
        finished_record(finished(request_id="plain"), None, None),
    ])
    model, client, failure, plain = access_lines(log_file)
    assert (model["requested_model"], model["model"]) == ("sk-…2345", "sk-…2345")
    assert model["msg"].startswith("chat sk-…2345 -> up/sk-…2345 502")
    assert client["client_key"] == "Bearer sk-…2345"
    assert failure["failures"] == ["up/sk-…2345: overloaded"] and "sk-…2345: overloaded" in failure["msg"]
    assert (plain["request_id"], plain["requested_model"]) == ("plain", "smart")
    assert key not in log_file.path.read_text("utf-8")


def test_access_line_for_a_non_streamed_request(make_gateway, upstream: FakeUpstream,
                                                log_file: JsonLog) -> None:
    upstream.always(reply(COMPLETION))
    client = make_gateway(gateway_config(upstream.url)).openai()
    client.chat.completions.create(model="fast", messages=[{"role": "user", "content": "hi"}])
    [line] = access_lines(log_file)
    assert line["level"] == "info"
    assert {k: line[k] for k in ("alias", "provider", "model", "status", "error_class", "tokens_in",
                                 "tokens_out", "tokens_cached", "attempts", "streamed",
                                 "tokens_estimated")} == {
        "alias": "fast", "provider": "up", "model": "gpt-4o-mini", "status": 200,
        "error_class": None, "tokens_in": 9, "tokens_out": 3, "tokens_cached": 4, "attempts": 1,
        "streamed": False, "tokens_estimated": False}
    assert line["cost_usd"] == pytest.approx(COST)
    assert 0 < line["ttft_ms"] <= line["latency_ms"] < 10_000
    assert line["request_id"].startswith("req_")
    assert "fast -> up/gpt-4o-mini 200" in line["msg"]


def test_access_line_is_stamped_when_the_request_ended(make_gateway, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Not when the writer thread got round to it: a busy writer must not move lines in time."""
    monkeypatch.setattr(Writer, "pause", 0.5)  # the writer naps after each line it catches up with
    with json_log(tmp_path / "llmp.log") as log:
        gateway = make_gateway("providers:\n  mock: {type: mock, models: [mock-1]}\n")
        before = time.time()
        gateway.openai().chat.completions.create(model="mock-1", messages=[{"role": "user", "content": "x"}])
        gateway.wait_idle()
        after = time.time()
        [line] = access_lines(log)
    stamped = datetime.fromisoformat(line["ts"].replace("Z", "+00:00")).timestamp()
    assert before - 0.001 <= stamped <= after


@pytest.mark.parametrize("linger", [0, 30], ids=["prompt-end", "upstream-slow-to-end"])
def test_access_line_for_a_streamed_request(make_gateway, upstream: FakeUpstream,
                                            log_file: JsonLog, linger: float) -> None:
    """The SDK hangs up once it reads `[DONE]`; an upstream slow to end its body after it
    must not turn that into a cancelled (499) request."""
    upstream.always(stream(stream_events(), linger=linger))
    gateway = make_gateway(gateway_config(upstream.url))
    parts = [event.choices[0].delta.content for event in gateway.openai().chat.completions.create(
        model="up/gpt-4o-mini", stream=True, messages=[{"role": "user", "content": "hi"}])]
    assert "".join(p or "" for p in parts) == "Hello"
    gateway.wait_idle()
    [line] = access_lines(log_file)
    assert (line["alias"], line["provider"], line["model"], line["status"]) == (
        None, "up", "gpt-4o-mini", 200)
    assert (line["tokens_in"], line["tokens_out"], line["tokens_cached"]) == (9, 3, 4)
    assert line["streamed"] is True and line["attempts"] == 1 and line["error_class"] is None
    assert line["cost_usd"] == pytest.approx(COST)
    assert 0 < line["ttft_ms"] <= line["latency_ms"]


def test_an_upstream_slow_to_end_its_body_does_not_hold_the_client(
        make_gateway, upstream: FakeUpstream, log_file: JsonLog) -> None:
    """The client's stream ends with the upstream's `[DONE]`, not 30 s later with its body."""
    upstream.always(stream(stream_events(), linger=30))
    gateway = make_gateway(gateway_config(upstream.url))
    with httpx.Client(timeout=5) as client:
        for _ in range(2):  # the second request rides the same keep-alive connection
            with client.stream("POST", gateway.base_url + "/chat/completions", json={
                    "model": "fast", "stream": True,
                    "messages": [{"role": "user", "content": "hi"}]}) as response:
                assert response.read().endswith(b"data: [DONE]\n\n")
    gateway.wait_idle()
    assert [line["status"] for line in access_lines(log_file)] == [200, 200]


def test_streams_reuse_the_upstream_connection(make_gateway, upstream: FakeUpstream) -> None:
    """Ending the client's stream at `[DONE]` still reads the upstream's body to its end
    (here a moment later), so the connection goes back to the pool."""
    upstream.always(stream(stream_events(), linger=0.02))
    client = make_gateway(gateway_config(upstream.url)).openai()
    for sent in range(1, 4):
        list(client.chat.completions.create(model="fast", stream=True,
                                            messages=[{"role": "user", "content": "hi"}]))
        wait_until(lambda: upstream.answered == sent)  # noqa: B023 - called at once
    assert len({recorded.peer for recorded in upstream.requests}) == 1


def test_an_anthropic_client_leaving_after_message_stop_was_served(
        make_gateway, upstream: FakeUpstream, log_file: JsonLog) -> None:
    upstream.always(stream(events("stream_tool_use.sse"), linger=30))
    gateway = make_gateway(config(upstream.url))
    with httpx.stream("POST", gateway.url + "/v1/messages", json={
            "model": "claude/claude-sonnet-4-5-20250929", "max_tokens": 100, "stream": True,
            "messages": [{"role": "user", "content": "x"}]}) as response:
        for line in response.iter_lines():
            if line == "event: message_stop":
                break
    gateway.wait_idle()
    [access] = access_lines(log_file)
    assert (access["status"], access["error_class"], access["streamed"]) == (200, None, True)


def test_access_line_names_the_error_class(make_gateway, upstream: FakeUpstream,
                                           log_file: JsonLog) -> None:
    upstream.always(fail(429, headers={"Retry-After": "1"}))
    gateway = make_gateway(gateway_config(upstream.url))
    response = httpx.post(gateway.base_url + "/chat/completions",
                          json={"model": "fast", "messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == 429
    [line] = access_lines(log_file)
    assert (line["status"], line["error_class"], line["tokens_in"], line["cost_usd"]) == (
        429, "rate_limited", None, None)


def test_access_line_names_each_failed_attempt(make_gateway, make_upstream,
                                               log_file: JsonLog) -> None:
    """A request served after a fail-over still records why the first deployment failed."""
    bad, good = make_upstream().always(fail(503)), make_upstream().always(healthy())
    clock = ManualClock()
    gateway = make_gateway(two_providers(bad.url, good.url, defaults="retry: {attempts: 1}"),
                           clock=clock, sleeper=clock.skip)
    response = httpx.post(gateway.base_url + "/chat/completions",
                          json={"model": "smart", "messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == 200
    [line] = access_lines(log_file)
    assert (line["status"], line["provider"], line["attempts"], line["error_class"]) == (
        200, "good", 3, None)
    assert line["failures"] == [f"bad/{MODEL}: overloaded"] * 2
    assert f"[failed: bad/{MODEL}: overloaded, bad/{MODEL}: overloaded]" in line["msg"]


def test_request_id_round_trip_and_on_every_line(make_gateway, upstream: FakeUpstream,
                                                 log_file: JsonLog) -> None:
    upstream.always(reply(COMPLETION))
    gateway = make_gateway(gateway_config(upstream.url))
    body = {"model": "fast", "messages": [{"role": "user", "content": "x"}]}
    mine = httpx.post(gateway.base_url + "/chat/completions", json=body,
                      headers={"x-request-id": "client-chosen-42"})
    assert mine.headers["x-request-id"] == "client-chosen-42"
    theirs = httpx.post(gateway.base_url + "/chat/completions", json=body)
    generated = theirs.headers["x-request-id"]
    assert generated.startswith("req_") and generated != "client-chosen-42"
    models = httpx.get(gateway.base_url + "/models", headers={"x-request-id": "listing-1"})
    assert models.headers["x-request-id"] == "listing-1"
    missing = httpx.post(gateway.base_url + "/chat/completions",
                         json={**body, "model": "nope"}, headers={"x-request-id": "bad-1"})
    assert missing.status_code == 404 and missing.headers["x-request-id"] == "bad-1"

    records = [r for r in log_file.records() if r["logger"] in ("llmp.http", "llmp.access")]
    by_request: dict[str, list[str]] = {}
    for record in records:
        by_request.setdefault(record["request_id"], []).append(record["logger"])
    assert by_request == {
        "client-chosen-42": ["llmp.http", "llmp.access"],
        generated: ["llmp.http", "llmp.access"],
        "listing-1": ["llmp.http"],
        "bad-1": ["llmp.http", "llmp.access"],
    }


def test_log_file_rotates_at_its_size_and_keeps_its_count(make_gateway, tmp_path: Path) -> None:
    config = LoggingConfig(level="info", max_bytes=10_000, backup_count=2)
    with json_log(tmp_path / "llmp.log", config):
        client = make_gateway("providers:\n  mock: {type: mock, models: [mock-1]}\n").openai()
        for _ in range(60):  # an access line is a few hundred bytes: 60 fill more than 3 files
            client.chat.completions.create(model="mock-1", messages=[{"role": "user", "content": "x"}])
    files = sorted(p.name for p in tmp_path.glob("llmp.log*"))
    assert files == ["llmp.log", "llmp.log.1", "llmp.log.2"]
    for name in files:
        assert (tmp_path / name).stat().st_size < 10_000
        assert all(json.loads(line)["logger"] for line in (tmp_path / name).read_text().splitlines())
