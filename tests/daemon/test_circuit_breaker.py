"""Circuit breakers and health checks, driven by the test clock.

The failing upstream's requests are counted: none while its circuit is open,
exactly the half-open probes after the recovery time, and the circuit closes
again from background health checks alone, with no user traffic.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from aiohttp import web

from llmp.daemon.providers.mock import MockProvider
from llmp.daemon.providers.registry import BUILTIN
from tests.daemon.routing_support import (
    MODEL,
    ask,
    healthy,
    provider_yaml,
    two_providers,
    wait_until,
)
from tests.daemon.test_isolation import per_model
from tests.support.clock import ManualClock
from tests.support.fake_upstream import fail
from tests.support.gateway import Gateway

BREAKER = """
retry: {attempts: 0}
circuit_breaker: {failure_threshold: 3, window: 60, recovery_time: 30, half_open_requests: 1}
health_check: {interval: 10}
"""


def health_round(gateway: Gateway, clock: ManualClock, seconds: float) -> None:
    """Move the clock; the background health checker wakes, runs one round and parks again."""
    checker = gateway.runtime.health
    wait_until(lambda: clock.waiting >= 1)
    rounds = checker.rounds
    clock.advance(seconds)
    wait_until(lambda: checker.rounds > rounds and clock.waiting >= 1)


def report(gateway: Gateway) -> dict:
    answer = httpx.get(gateway.url + "/admin/providers/health", headers=gateway.admin_headers())
    assert answer.status_code == 200
    return {p["name"]: p for p in answer.json()["providers"]} | {"_": answer.json()}


def deployment_circuit(gateway: Gateway) -> dict:
    """The circuit of provider `bad`'s one deployment: a model failing opens its own."""
    return report(gateway)["bad"]["deployments"][0]["circuit"]


def test_open_circuit_gets_no_traffic_then_health_checks_close_it(
    make_gateway, make_upstream
) -> None:
    bad, good = make_upstream().always(per_model({MODEL: fail(500)})), make_upstream().always(healthy())
    clock = ManualClock()
    gateway = make_gateway(two_providers(bad.url, good.url, defaults=BREAKER),
                           clock=clock, sleeper=clock.skip)
    client = gateway.openai()
    assert [ask(client) for _ in range(3)] == ["good"] * 3
    assert bad.count("/chat/completions") == 3
    states = report(gateway)
    deployment = states["bad"]["deployments"][0]["circuit"]
    assert deployment == {"state": "open", "next_probe_in": 30}
    assert states["bad"]["circuit"]["state"] == "closed"  # one model failing: not the provider
    assert states["bad"]["state"] == "degraded"

    assert [ask(client) for _ in range(10)] == ["good"] * 10
    health_round(gateway, clock, 10)  # a check is due: the provider's, not the open deployment's
    assert bad.count("/chat/completions") == 3 and bad.count("/models") == 1

    health_round(gateway, clock, 20)  # recovery time reached: exactly one half-open probe
    assert bad.count("/chat/completions") == 4 and bad.count("/models") == 2  # + its interval
    assert report(gateway)["bad"]["deployments"][0]["circuit"] == {
        "state": "open", "next_probe_in": 60}  # it failed: open again, longer

    bad.always(healthy())
    health_round(gateway, clock, 30)  # recovery time doubled to 60: still no probe
    assert bad.count("/chat/completions") == 4
    health_round(gateway, clock, 30)
    assert bad.count("/chat/completions") == 5  # its half-open deployment's probe
    probe = bad.requests[-1].json
    assert probe["max_tokens"] == 1 and probe["model"] == MODEL
    states = report(gateway)
    assert states["bad"]["deployments"][0]["circuit"]["state"] == "closed"
    assert states["bad"]["last_checked"] is not None
    transitions = {(t["circuit"], t["from"], t["to"]): t["count"]
                   for t in states["_"]["transitions"]}
    assert transitions[(f"bad/{MODEL}", "closed", "open")] == 1
    assert transitions[(f"bad/{MODEL}", "half_open", "open")] == 1
    assert transitions[(f"bad/{MODEL}", "half_open", "closed")] == 1
    assert ("bad", "closed", "open") not in transitions
    assert ask(client) == "bad"


def test_one_stray_error_never_opens_a_circuit(make_gateway, make_upstream) -> None:
    bad, good = make_upstream().always(healthy()), make_upstream().always(healthy())
    clock = ManualClock()
    defaults = """
retry: {attempts: 0}
circuit_breaker: {failure_threshold: 50, failure_rate: 0.5, min_requests: 4}
"""
    client = make_gateway(two_providers(bad.url, good.url, defaults=defaults),
                          clock=clock, sleeper=clock.skip).openai()
    bad.then(fail(500))
    assert ask(client) == "good"  # 1 failure of 1 request: below min_requests
    assert [ask(client) for _ in range(4)] == ["bad"] * 4
    bad.then(fail(500), fail(500), fail(500))
    assert [ask(client) for _ in range(3)] == ["good"] * 3  # now 4 of 8 failed: open
    assert ask(client) == "good"
    assert bad.count("/chat/completions") == 8


def test_all_open_waits_for_the_earliest_probe_when_it_fits(make_gateway, make_upstream) -> None:
    first, second = make_upstream().always(fail(503)), make_upstream().always(fail(503))
    clock = ManualClock()
    defaults = """
retry: {attempts: 0}
circuit_breaker: {failure_threshold: 1, recovery_time: 5}
health_check: {enabled: false}
"""
    client = make_gateway(two_providers(first.url, second.url, defaults=defaults),
                          clock=clock, sleeper=clock.skip).openai()
    with pytest.raises(openai.InternalServerError):
        ask(client)
    second.always(healthy())
    assert ask(client) == "good"
    assert clock.slept == [5.0]
    assert first.count("/chat/completions") == 2  # its probe failed; the second's succeeded


def test_all_open_beyond_the_deadline_is_503_with_retry_after(make_gateway, make_upstream) -> None:
    first, second = make_upstream().always(fail(500)), make_upstream().always(fail(500))
    clock = ManualClock()
    defaults = """
timeout: {total: 300}
retry: {attempts: 0}
circuit_breaker: {failure_threshold: 1, recovery_time: 1000, max_recovery_time: 1000}
health_check: {enabled: false}
"""
    gateway = make_gateway(two_providers(first.url, second.url, defaults=defaults),
                           clock=clock, sleeper=clock.skip)
    body = {"model": "smart", "messages": [{"role": "user", "content": "x"}]}
    assert httpx.post(gateway.base_url + "/chat/completions", json=body).status_code == 500
    clock.advance(400)
    response = httpx.post(gateway.base_url + "/chat/completions", json=body)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "600"
    assert response.json()["error"]["code"] == "circuit_open"
    assert clock.slept == []
    assert len(first.requests) == len(second.requests) == 1


def mock_checked_every_5s(make_gateway, name: str):
    """A gateway with one mock provider health-checked every 5 s, and the clock that drives it."""
    clock = ManualClock()
    config = f"""
defaults:
  health_check: {{interval: 5}}
providers:
  {name}:
    type: mock
    models: [mock-1]
"""
    return make_gateway(config, clock=clock, sleeper=clock.skip), clock


def test_health_check_without_models_endpoint_is_a_one_token_completion(make_gateway) -> None:
    gateway, clock = mock_checked_every_5s(make_gateway, "m")
    assert report(gateway)["m"]["state"] == "unknown"
    health_round(gateway, clock, 5)
    states = report(gateway)
    assert states["m"]["state"] == "healthy"
    assert states["m"]["last_check_ok"] is True
    assert states["m"]["check_latency"] is not None
    assert states["m"]["deployments"][0]["last_check_ok"] is True
    assert states["m"]["requests"] == 0  # checks are not counted as traffic


def test_failures_across_models_open_the_provider_circuit(make_gateway, make_upstream) -> None:
    upstream = make_upstream().always(healthy())
    clock = ManualClock()
    config = """
defaults:
  timeout: {total: 300}
  retry: {attempts: 0}
  circuit_breaker: {failure_threshold: 2, recovery_time: 1000, max_recovery_time: 1000}
providers:
""" + provider_yaml("p", upstream.url).replace(f"[{MODEL}]", f"[{MODEL}, other]")
    gateway = make_gateway(config, clock=clock, sleeper=clock.skip)
    client = gateway.openai()
    upstream.then(fail(500), fail(500))
    for model in (MODEL, "other"):
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model=f"p/{model}",
                                           messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model=f"p/{MODEL}",
                                       messages=[{"role": "user", "content": "x"}])
    assert caught.value.response.status_code == 503
    assert caught.value.response.headers["Retry-After"] == "1000"
    assert upstream.count("/chat/completions") == 2
    states = report(gateway)["p"]
    assert states["circuit"]["state"] == "open"
    assert {d["model"]: d["circuit"]["state"] for d in states["deployments"]} == {
        MODEL: "closed", "other": "closed"}  # one failure each: below their own threshold


def test_each_provider_is_checked_on_its_own_interval(make_gateway, make_upstream) -> None:
    often, rarely = make_upstream().always(healthy()), make_upstream().always(healthy())
    clock = ManualClock()
    config = "providers:\n" + provider_yaml("often", often.url, "health_check: {interval: 5}") + \
        provider_yaml("rarely", rarely.url, "health_check: {interval: 15}")
    gateway = make_gateway(config, clock=clock, sleeper=clock.skip)
    counts = []
    for _ in range(3):
        health_round(gateway, clock, 5)
        counts.append((often.count("/models"), rarely.count("/models")))
    assert counts == [(1, 0), (2, 0), (3, 1)]


USER_TRAFFIC_ONLY = """
retry: {attempts: 0}
circuit_breaker: {failure_threshold: 1, recovery_time: 30, max_recovery_time: 1000, half_open_requests: 2}
health_check: {enabled: false}
"""


def test_half_open_lets_exactly_its_probes_through_from_user_traffic(
    make_gateway, make_upstream
) -> None:
    """With two probe slots, two concurrent requests probe; the rest go elsewhere until a verdict."""
    release = asyncio.Event()

    async def held(request: web.Request) -> web.StreamResponse:
        await release.wait()
        return await healthy()(request)

    bad, good = make_upstream().always(fail(500)), make_upstream().always(healthy())
    clock = ManualClock()
    gateway = make_gateway(two_providers(bad.url, good.url, defaults=USER_TRAFFIC_ONLY),
                           clock=clock, sleeper=clock.skip)
    client = gateway.openai()
    assert [ask(client) for _ in range(4)] == ["good"] * 4
    assert bad.count("/chat/completions") == 1  # opened by the first failure, then left alone
    clock.advance(30)
    bad.always(held)
    with ThreadPoolExecutor(2) as pool:
        probes = [pool.submit(ask, gateway.openai()) for _ in range(2)]
        wait_until(lambda: bad.count("/chat/completions") == 3)
        assert [ask(client) for _ in range(3)] == ["good"] * 3  # both slots are taken
        assert bad.count("/chat/completions") == 3
        bad._server.call_soon(release.set)  # type: ignore[union-attr]
        assert [p.result(10) for p in probes] == ["bad", "bad"]
    assert deployment_circuit(gateway) == {"state": "closed"}
    assert ask(client) == "bad"
    assert gateway.runtime.router.breakers.transitions[(f"bad/{MODEL}", "half_open", "closed")] == 1


def test_recovery_time_grows_while_probes_fail_and_resets_once_one_succeeds(
    make_gateway, make_upstream
) -> None:
    bad, good = make_upstream().always(fail(500)), make_upstream().always(healthy())
    clock = ManualClock()
    gateway = make_gateway(two_providers(bad.url, good.url, defaults=USER_TRAFFIC_ONLY),
                           clock=clock, sleeper=clock.skip)
    client = gateway.openai()
    assert ask(client) == "good"
    waits = []
    for _ in range(3):  # a probe after each recovery time; each fails and doubles it
        waits.append(deployment_circuit(gateway)["next_probe_in"])
        clock.advance(waits[-1] - 1)
        assert ask(client) == "good"  # a second early: no probe
        clock.advance(1)
        assert ask(client) == "good"  # the probe failed; good answered
    assert waits == [30, 60, 120]
    assert bad.count("/chat/completions") == 4
    assert deployment_circuit(gateway)["next_probe_in"] == 240
    bad.always(healthy())
    clock.advance(240)
    assert ask(client) == "bad"
    bad.always(fail(500))
    assert ask(client) == "good"
    assert deployment_circuit(gateway)["next_probe_in"] == 30  # back to the configured time


class StreamsOnly(MockProvider):
    """A mock whose upstream answers chat only as a stream, as some adapters' upstreams do."""

    streams_only = True
    streamed: list[dict] = []

    async def chat(self, request, model):  # type: ignore[no-untyped-def]
        raise AssertionError("a streams-only provider was asked for a whole answer")

    async def chat_stream(self, request, model):  # type: ignore[no-untyped-def]
        StreamsOnly.streamed.append(dict(request))
        return await super().chat_stream(request, model)


def test_health_check_of_a_streams_only_provider_streams(
    make_gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(BUILTIN, "mock", f"{__name__}:StreamsOnly")
    monkeypatch.setattr(StreamsOnly, "streamed", [])
    gateway, clock = mock_checked_every_5s(make_gateway, "s")
    health_round(gateway, clock, 5)
    assert [(r["model"], r["max_tokens"], r["stream"]) for r in StreamsOnly.streamed] == [
        ("mock-1", 1, True)]
    states = report(gateway)
    assert states["s"]["last_check_ok"] is True
    assert states["s"]["state"] == "healthy"


def test_a_request_waiting_for_a_probe_in_flight_goes_as_soon_as_it_succeeds(
    make_gateway, make_upstream
) -> None:
    """Every circuit is half-open with its probe out: the next request waits for the probe's
    verdict, not for a whole recovery time (the clock never moves in this test)."""
    release = asyncio.Event()

    async def held(request: web.Request) -> web.StreamResponse:
        await release.wait()
        return await healthy()(request)

    upstream = make_upstream().always(fail(500))
    clock = ManualClock()
    config = "providers:\n" + provider_yaml("only", upstream.url, USER_TRAFFIC_ONLY.replace(
        "half_open_requests: 2", "half_open_requests: 1"))
    gateway = make_gateway(config, clock=clock)  # waits go through the clock: they really wait
    client = gateway.openai()
    with pytest.raises(openai.InternalServerError):
        ask(client, f"only/{MODEL}")
    clock.advance(30)
    upstream.always(held)
    with ThreadPoolExecutor(2) as pool:
        probe = pool.submit(ask, gateway.openai(), f"only/{MODEL}")
        wait_until(lambda: upstream.count("/chat/completions") == 2)
        waiting = pool.submit(ask, gateway.openai(), f"only/{MODEL}")
        wait_until(lambda: clock.waiting == 1)  # parked until the probe's verdict
        upstream._server.call_soon(release.set)  # type: ignore[union-attr]
        assert (probe.result(10), waiting.result(10)) == ("only", "only")
    assert upstream.count("/chat/completions") == 3
    assert clock.waiting == 0
