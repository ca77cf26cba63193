"""Failures of the first provider behind an alias never reach the client when a second one works.

Every fault a real upstream produces (5xx, 429 with Retry-After, hanging,
refusing connections, cutting the body or the stream) is classified, retried
on the same deployment with backoff, then failed over; what the client sees
is a normal answer from the healthy provider. Backoff goes through the test
clock, so the waits are asserted, not slept.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import socket
import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from aiohttp import web

from llmp.daemon.context import RequestContext
from tests.daemon.routing_support import (
    MODEL,
    STREAM_EVENTS,
    ask,
    closed_port_url,
    healthy,
    provider_yaml,
    two_providers,
    wait_until,
)
from tests.support.clock import ManualClock
from tests.support.fake_upstream import drop, fail, hang, reply, stream

RETRY_ONCE = "retry: {attempts: 1, backoff: 0.2, max_backoff: 4}"
SHORT_TIMEOUTS = "timeout: {connect: 1, first_token: 0.3, total: 0.3}"
SHORT_FIRST_TOKEN = "timeout: {connect: 1, first_token: 0.3, total: 10}"


def cut_mid_body() -> object:
    """Headers and part of the body, then the connection is cut."""

    async def behaviour(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            status=200, headers={"Content-Type": "application/json", "Content-Length": "500"}
        )
        await response.prepare(request)
        await response.write(b'{"id": "chatcmpl-1", "choices": [')
        assert request.transport is not None
        request.transport.abort()
        return response

    return behaviour


class Finished:
    """An observer keeping every finished request's context."""

    def __init__(self) -> None:
        self.contexts: list[RequestContext] = []

    def request_finished(self, ctx: RequestContext) -> None:
        self.contexts.append(ctx)


FAULTS = {
    "500": lambda: fail(500),
    "503": lambda: fail(503, {"error": {"message": "overloaded", "type": "server_error"}}),
    "429-retry-after": lambda: fail(429, headers={"Retry-After": "1"}),
    "hang": lambda: hang(),
    "drop": lambda: drop(),
    "cut-mid-body": cut_mid_body,
}


# How each fault is classified, as recorded with the request.
KINDS = {
    "500": "server_error", "503": "overloaded", "429-retry-after": "rate_limited",
    "hang": "timeout (total_timeout)", "drop": "connection", "cut-mid-body": "incomplete",
}


def gateway_for(make_gateway, bad_url: str, good_url: str, *, clock: ManualClock,
                bad_extra: str = "", defaults: str = RETRY_ONCE):
    config = two_providers(bad_url, good_url, defaults=defaults, bad_extra=bad_extra)
    return make_gateway(config, clock=clock, sleeper=clock.skip)


@pytest.mark.parametrize("fault", list(FAULTS))
def test_non_streaming_faults_fail_over(make_gateway, make_upstream, fault: str) -> None:
    bad, good = make_upstream().always(FAULTS[fault]()), make_upstream().always(healthy())
    clock = ManualClock()
    gateway = gateway_for(make_gateway, bad.url, good.url, clock=clock, bad_extra=SHORT_TIMEOUTS)
    finished = Finished()
    gateway.runtime.observers.append(finished)
    response = httpx.post(gateway.base_url + "/chat/completions", timeout=10,
                          json={"model": "smart", "messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "fine"
    assert response.headers["x-llmp-provider"] == "good"
    assert response.headers["x-llmp-model"] == MODEL
    assert response.headers["x-llmp-attempts"] == "3"  # first try + one retry on bad, then good
    assert bad.count("/chat/completions") == 2
    assert good.count("/chat/completions") == 1
    assert len(clock.slept) == 1
    if fault == "429-retry-after":
        assert clock.slept[0] >= 1.0  # the upstream's Retry-After is the floor of the wait
    [ctx] = finished.contexts
    assert ctx.failures == [f"bad/{MODEL}: {KINDS[fault]}"] * 2
    assert (ctx.provider, ctx.attempts, ctx.status) == ("good", 3, 200)


@pytest.mark.parametrize("body", [b'{"id": "chatcmpl-1", "choices": [{"index": 0, "mess', b"",
                                  b"<html><body>502 Bad Gateway</body></html>", b"OK"],
                         ids=["cut-cleanly", "empty", "html", "text"])
def test_a_200_without_a_whole_json_answer_fails_over(make_gateway, make_upstream,
                                                      body: bytes) -> None:
    """Framing cannot tell these from an answer (the length matches what was sent): the
    body itself must be a whole JSON object, or the answer never reaches the client."""
    bad, good = make_upstream().always(reply(body)), make_upstream().always(healthy())
    clock = ManualClock()
    gateway = gateway_for(make_gateway, bad.url, good.url, clock=clock)
    finished = Finished()
    gateway.runtime.observers.append(finished)
    assert ask(gateway.openai()) == "good"
    assert bad.count("/chat/completions") == 2
    assert finished.contexts[0].failures == [f"bad/{MODEL}: incomplete"] * 2


@pytest.fixture
def unanswered_url() -> Iterator[str]:
    """A loopback listener whose accept queue is full: new connections are never set up."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        waiting = [socket.socket() for _ in range(3)]
        for queued in waiting:
            queued.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                queued.connect(address)
        yield f"http://127.0.0.1:{address[1]}"
        for queued in waiting:
            queued.close()


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_connect_timeout_fails_over(make_gateway, make_upstream, unanswered_url: str,
                                    streamed: bool) -> None:
    good = make_upstream().always(healthy())
    clock = ManualClock()
    gateway = gateway_for(make_gateway, unanswered_url, good.url, clock=clock,
                          bad_extra="timeout: {connect: 0.3, first_token: 5, total: 10}")
    finished = Finished()
    gateway.runtime.observers.append(finished)
    answer = gateway.openai().chat.completions.with_raw_response.create(
        model="smart", stream=streamed, messages=[{"role": "user", "content": "x"}])
    assert answer.headers["x-llmp-provider"] == "good"
    answer.parse()
    wait_until(lambda: len(finished.contexts) == 1)
    assert finished.contexts[0].failures == [f"bad/{MODEL}: timeout (connect_timeout)"] * 2


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_connection_refused_fails_over(make_gateway, make_upstream, streamed: bool) -> None:
    good = make_upstream().always(healthy())
    clock = ManualClock()
    gateway = gateway_for(make_gateway, closed_port_url(), good.url, clock=clock)
    finished = Finished()
    gateway.runtime.observers.append(finished)
    answer = gateway.openai().chat.completions.with_raw_response.create(
        model="smart", stream=streamed, messages=[{"role": "user", "content": "x"}])
    assert answer.headers["x-llmp-provider"] == "good"
    assert answer.headers["x-llmp-attempts"] == "3"
    if streamed:
        text = "".join(e.choices[0].delta.content or "" for e in answer.parse() if e.choices)
    else:
        text = answer.parse().choices[0].message.content
    assert text == "fine"
    assert len(clock.slept) == 1
    ctx_failures = gateway.runtime.router.stats.provider_summary("bad", clock.now())
    assert ctx_failures["error_rate_5m"] == 1.0
    assert "cannot connect" in ctx_failures["last_error"]
    wait_until(lambda: len(finished.contexts) == 1)
    assert finished.contexts[0].failures == [f"bad/{MODEL}: connection"] * 2


def headers_then_silence() -> object:
    async def behaviour(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await asyncio.sleep(3600)
        return response

    return behaviour


STREAM_FAULTS = {
    **{k: v for k, v in FAULTS.items() if k != "cut-mid-body"},
    "empty-stream": lambda: stream([], status=200),
    "cut-before-first-event": lambda: stream(STREAM_EVENTS, drop_after=0),
    "no-first-token": headers_then_silence,
}

STREAM_KINDS = {
    "hang": "timeout (first_token_timeout)", "no-first-token": "timeout (first_token_timeout)",
    "empty-stream": "incomplete", "cut-before-first-event": "incomplete",
}


@pytest.mark.parametrize("fault", list(STREAM_FAULTS))
def test_streaming_faults_before_first_byte_fail_over(make_gateway, make_upstream, fault: str) -> None:
    bad, good = make_upstream().always(STREAM_FAULTS[fault]()), make_upstream().always(healthy())
    clock = ManualClock()
    gateway = gateway_for(make_gateway, bad.url, good.url, clock=clock,
                          bad_extra=SHORT_FIRST_TOKEN)
    finished = Finished()
    gateway.runtime.observers.append(finished)
    client = gateway.openai()
    text = "".join(
        event.choices[0].delta.content or ""
        for event in client.chat.completions.create(
            model="smart", stream=True, messages=[{"role": "user", "content": "x"}])
        if event.choices
    )
    assert text == "fine"
    assert bad.count("/chat/completions") == 2
    assert good.count("/chat/completions") == 1
    wait_until(lambda: len(finished.contexts) == 1)
    kind = STREAM_KINDS.get(fault) or KINDS[fault]
    assert finished.contexts[0].failures == [f"bad/{MODEL}: {kind}"] * 2


def test_stream_failure_after_first_byte_is_an_error_event(make_gateway, make_upstream) -> None:
    bad = make_upstream().always(stream(STREAM_EVENTS, drop_after=2, delay=0.05))
    good = make_upstream().always(healthy())
    gateway = gateway_for(make_gateway, bad.url, good.url, clock=ManualClock())
    with httpx.stream("POST", gateway.base_url + "/chat/completions", timeout=10,
                      json={"model": "smart", "stream": True,
                            "messages": [{"role": "user", "content": "x"}]}) as response:
        text = "".join(response.iter_text())
    assert response.headers["x-llmp-provider"] == "bad"
    last = [line for line in text.splitlines() if line.startswith("data: ")][-1]
    assert "error" in json.loads(last[6:])
    assert good.requests == []  # bytes had reached the client: no fail-over any more
    stats = gateway.runtime.router.stats.get("bad", MODEL)
    wait_until(lambda: stats.requests == 1)
    now = gateway.runtime.router.clock.now()
    assert stats.summary(now)["error_rate_5m"] == 1.0  # the cut stream counts against bad


def test_retry_after_headers_are_honoured(make_gateway, make_upstream) -> None:
    bad, good = make_upstream(), make_upstream().always(healthy())
    when = email.utils.formatdate(time.time() + 3, usegmt=True)
    bad.then(fail(429, headers={"retry-after-ms": "1500"}), healthy(),
             fail(429, headers={"x-ms-retry-after-ms": "2500"}), healthy(),
             fail(503, headers={"Retry-After": when}), healthy())
    clock = ManualClock()
    client = gateway_for(make_gateway, bad.url, good.url, clock=clock).openai()
    assert [ask(client) for _ in range(3)] == ["bad"] * 3
    assert clock.slept[0] >= 1.5
    assert clock.slept[1] >= 2.5
    assert 1.5 <= clock.slept[2] <= 4.0  # an HTTP date, a few seconds ahead
    assert good.requests == []


def test_long_retry_after_moves_on_and_closes_the_budget(make_gateway, make_upstream) -> None:
    bad = make_upstream().always(fail(429, headers={"Retry-After": "30"}))
    good = make_upstream().always(healthy())
    clock = ManualClock()
    client = gateway_for(make_gateway, bad.url, good.url, clock=clock).openai()
    assert [ask(client) for _ in range(3)] == ["good"] * 3
    assert clock.slept == []  # 30s is longer than max_backoff: not waited for
    assert bad.count("/chat/completions") == 1  # and bad is left alone until then
    clock.advance(31)
    client.chat.completions.create(model="smart", messages=[{"role": "user", "content": "x"}])
    assert bad.count("/chat/completions") == 2


@pytest.mark.parametrize(
    ("status", "body", "error_class", "good_used"),
    [
        (400, {"error": {"message": "bad 'foo'", "type": "invalid_request_error",
                         "code": "unsupported_parameter"}}, openai.BadRequestError, False),
        (400, {"error": {"message": "flagged", "type": "invalid_request_error",
                         "code": "content_policy_violation"}}, openai.BadRequestError, False),
        (404, {"error": {"message": "no such model", "code": "model_not_found"}}, None, True),
    ],
)
def test_request_errors_are_not_retried(make_gateway, make_upstream, status, body, error_class,
                                        good_used) -> None:
    bad, good = make_upstream().always(fail(status, body)), make_upstream().always(healthy())
    clock = ManualClock()
    client = gateway_for(make_gateway, bad.url, good.url, clock=clock).openai()
    call = lambda: client.chat.completions.create(  # noqa: E731
        model="smart", messages=[{"role": "user", "content": "x"}])
    if error_class is None:
        assert call().choices[0].message.content == "fine"
    else:
        with pytest.raises(error_class) as caught:
            call()
        assert caught.value.status_code == status
        assert caught.value.body["message"] == body["error"]["message"]
    assert bad.count("/chat/completions") == 1
    assert (good.count("/chat/completions") == 1) is good_used
    assert clock.slept == []


def test_spent_quota_fails_over_without_retrying_and_opens_the_circuit(
    make_gateway, make_upstream
) -> None:
    """OpenAI's 429 `insufficient_quota` is no rate limit: waiting does not bring credit back."""
    quota = {"error": {"message": "You exceeded your current quota, please check your plan and "
                                  "billing details.", "type": "insufficient_quota", "param": None,
                       "code": "insufficient_quota"}}
    bad, good = make_upstream().always(fail(429, quota)), make_upstream().always(healthy())
    clock = ManualClock()
    defaults = "retry: {attempts: 2}\ncircuit_breaker: {failure_threshold: 2}"
    gateway = gateway_for(make_gateway, bad.url, good.url, clock=clock, defaults=defaults)
    finished = Finished()
    gateway.runtime.observers.append(finished)
    client = gateway.openai()
    assert [ask(client) for _ in range(4)] == ["good"] * 4
    assert clock.slept == []
    assert bad.count("/chat/completions") == 2  # once per request, then its circuit opened
    assert finished.contexts[0].failures == [f"bad/{MODEL}: quota (insufficient_quota)"]
    assert gateway.runtime.router.breakers.get("bad", MODEL).state.value == "open"


def test_auth_failure_marks_provider_unauthorized_until_key_changes(
    make_gateway, make_upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = make_upstream().always(fail(401, {"error": {"message": "Incorrect API key provided: "
                                                      "sk-live-abcdef1234567890abcdef1234"}}))
    good = make_upstream().always(healthy())
    monkeypatch.setenv("BAD_KEY", "sk-old-key-0001")
    config = two_providers(bad.url, good.url, defaults=RETRY_ONCE).replace(
        "api_key: none", "api_key: env:BAD_KEY", 1)
    clock = ManualClock()
    gateway = make_gateway(config, clock=clock, sleeper=clock.skip)
    client = gateway.openai()
    assert [ask(client) for _ in range(3)] == ["good"] * 3
    assert bad.count("/chat/completions") == 1
    report = httpx.get(gateway.url + "/admin/providers/health",
                       headers=gateway.admin_headers()).json()
    state = {p["name"]: p for p in report["providers"]}
    assert state["bad"]["state"] == "unauthorized"
    assert "sk-live-abcdef1234567890abcdef1234" not in json.dumps(report)
    assert "sk-…1234" in state["bad"]["last_error"]
    bad.always(healthy())
    checked = httpx.get(gateway.url + "/admin/providers/health?check=1",
                        headers=gateway.admin_headers()).json()
    assert {p["name"]: p["state"] for p in checked["providers"]}["bad"] == "unauthorized"
    assert bad.count("/models") == 0  # the same key is not tried again
    monkeypatch.setenv("BAD_KEY", "sk-new-key-0002")
    httpx.get(gateway.url + "/admin/providers/health?check=1", headers=gateway.admin_headers())
    assert bad.requests[-1].headers["Authorization"] == "Bearer sk-new-key-0002"
    assert ask(client) == "bad"  # the health check read the new key


def test_context_too_long_moves_to_context_fallback(make_gateway, make_upstream) -> None:
    too_long = {"error": {"message": "This model's maximum context length is 128000 tokens.",
                          "type": "invalid_request_error", "code": "context_length_exceeded"}}
    bad, good, big = (make_upstream().always(fail(400, too_long)), make_upstream().always(healthy()),
                      make_upstream().always(healthy()))
    config = two_providers(bad.url, good.url).replace("providers:\n", "providers:\n" + f"""  big:
    type: openai
    base_url: {big.url}/v1
    api_key: none
    models: [{MODEL}]
""", 1) + f"    context_fallback: [big/{MODEL}]\n"
    clock = ManualClock()
    client = make_gateway(config, clock=clock, sleeper=clock.skip).openai()
    answer = client.chat.completions.with_raw_response.create(
        model="smart", messages=[{"role": "user", "content": "x " * 1000}])
    assert answer.headers["x-llmp-provider"] == "big"
    assert bad.count("/chat/completions") == 1
    assert good.requests == []


def test_one_deadline_bounds_the_request_with_its_retries(make_gateway, make_upstream) -> None:
    bad = make_upstream().always(fail(500))
    clock = ManualClock()
    config = "providers:\n" + provider_yaml("bad", bad.url, """
timeout: {total: 5}
retry: {attempts: 10, backoff: 1, max_backoff: 4}
circuit_breaker: {failure_threshold: 100}
""")
    client = make_gateway(config, clock=clock, sleeper=clock.skip).openai()
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model=f"bad/{MODEL}",
                                       messages=[{"role": "user", "content": "x"}])
    assert sum(clock.slept) < 5
    assert bad.count("/chat/completions") == len(clock.slept) + 1 < 11
    assert caught.value.response.headers["x-llmp-attempts"] == str(len(bad.requests))
