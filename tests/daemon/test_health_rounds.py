"""Background health checks keep probing open circuits at their recovery time.

The clock is the test's: a probe that runs when the clock reaches a circuit's
recovery time (and not its interval) shows the checker woke for it.
"""

from __future__ import annotations

import httpx

from tests.daemon.routing_support import MODEL, closed_port_url, healthy, provider_yaml, wait_until
from tests.daemon.test_isolation import per_model
from tests.support.clock import ManualClock
from tests.support.fake_upstream import drop, fail
from tests.support.gateway import Gateway

SLOW_INTERVAL = """
retry: {attempts: 0}
circuit_breaker: {failure_threshold: 1, recovery_time: 30, max_recovery_time: 45}
health_check: {interval: 600}
"""


def report(gateway: Gateway) -> dict:
    answer = httpx.get(gateway.url + "/admin/providers/health", headers=gateway.admin_headers())
    return answer.json()["providers"][0]


def parked(gateway: Gateway, clock: ManualClock, rounds: int) -> None:
    """Wait until the checker has run `rounds` rounds and sleeps again."""
    checker = gateway.runtime.health
    wait_until(lambda: checker.rounds >= rounds and clock.waiting >= 1)


def chat(gateway: Gateway, model: str) -> int:
    return httpx.post(gateway.base_url + "/chat/completions", json={
        "model": model, "messages": [{"role": "user", "content": "x"}]}).status_code


def test_an_open_provider_circuit_is_probed_at_its_recovery_time(make_gateway, make_upstream) -> None:
    upstream = make_upstream().always(healthy())
    clock = ManualClock()
    gateway = make_gateway("providers:\n" + provider_yaml("up", upstream.url, SLOW_INTERVAL),
                           clock=clock, sleeper=clock.skip)
    parked(gateway, clock, 0)
    upstream.always(drop())  # connections cut without an answer: the provider's circuit opens
    assert chat(gateway, f"up/{MODEL}") == 502
    assert report(gateway)["circuit"]["state"] == "open"
    models = upstream.count("/models")

    clock.advance(30)  # the recovery time, far short of the 600 s interval: one probe, failing
    parked(gateway, clock, 1)
    assert upstream.count("/models") > models  # (aiohttp itself retries a GET on a reused
    # connection cut without an answer, so the cut probe may reach the upstream twice)
    circuit = report(gateway)["circuit"]
    assert circuit == {"state": "open", "next_probe_in": 45}  # doubled, but capped at 45

    upstream.always(healthy())
    clock.advance(45)
    parked(gateway, clock, 2)
    assert report(gateway)["circuit"] == {"state": "closed"}
    assert chat(gateway, f"up/{MODEL}") == 200


def test_an_open_deployment_is_probed_without_user_traffic(make_gateway, make_upstream) -> None:
    upstream = make_upstream().always(per_model({MODEL: fail(500)}))
    clock = ManualClock()
    gateway = make_gateway("providers:\n" + provider_yaml("up", upstream.url, SLOW_INTERVAL),
                           clock=clock, sleeper=clock.skip)
    parked(gateway, clock, 0)
    assert chat(gateway, f"up/{MODEL}") == 500
    deployment = report(gateway)["deployments"][0]
    assert deployment["circuit"]["state"] == "open"
    assert report(gateway)["circuit"]["state"] == "closed"

    upstream.always(per_model({}))
    calls = upstream.count("/chat/completions")
    clock.advance(30)
    parked(gateway, clock, 1)
    assert upstream.count("/chat/completions") == calls + 1
    assert upstream.requests[-1].json["max_tokens"] == 1
    assert report(gateway)["deployments"][0]["circuit"] == {"state": "closed"}


def test_the_live_stats_and_the_health_report_agree(make_gateway, make_upstream) -> None:
    """`llmp status --watch` reads /admin/stats, `llmp providers health` the health report."""
    upstream = make_upstream().always(per_model({"broken": fail(500)}))
    clock = ManualClock()
    gateway = make_gateway("providers:\n" + provider_yaml("up", upstream.url, SLOW_INTERVAL)
                           .replace(f"[{MODEL}]", f"[{MODEL}, broken]") + "  idle:\n    type: mock\n"
                           "    models: [mock-1]\n    health_check: {enabled: false}\n",
                           clock=clock, sleeper=clock.skip)
    health_round = gateway.runtime.health.check()  # a check asked for now, as --check does
    gateway.server.call(health_round)
    assert chat(gateway, "up/broken") == 500
    stats = httpx.get(gateway.url + "/admin/stats", headers=gateway.admin_headers()).json()
    health = httpx.get(gateway.url + "/admin/providers/health",
                       headers=gateway.admin_headers()).json()["providers"]
    live = {p["name"]: (p["health"], p["circuit"]) for p in stats["providers"]}
    reported = {p["name"]: (p["state"], p["circuit"]["state"]) for p in health}
    assert live == reported == {"up": ("degraded", "closed"), "idle": ("healthy", "closed")}
    checked = {p["name"]: p["last_checked"] for p in stats["providers"]}
    assert checked == {p["name"]: p["last_checked"] for p in health}
    assert None not in checked.values()


def test_each_provider_is_reached_at_start_without_sending_it_a_request(make_gateway,
                                                                         make_upstream) -> None:
    """State is known within seconds of start, long before the first interval, and no
    request goes upstream for it: a connection is opened and closed, nothing else."""
    upstream = make_upstream().always(healthy())
    clock = ManualClock()
    gateway = make_gateway("providers:\n" + provider_yaml("up", upstream.url, SLOW_INTERVAL)
                           + provider_yaml("gone", closed_port_url(), SLOW_INTERVAL),
                           clock=clock, sleeper=clock.skip)

    def states() -> dict[str, str]:
        answer = httpx.get(gateway.url + "/admin/providers/health", headers=gateway.admin_headers())
        return {entry["name"]: entry["state"] for entry in answer.json()["providers"]}

    wait_until(lambda: states() == {"up": "healthy", "gone": "down"})
    gone = httpx.get(gateway.url + "/admin/providers/health",
                     headers=gateway.admin_headers()).json()["providers"][1]
    assert "connect" in gone["last_error"] and gone["last_checked"] is not None
    assert upstream.requests == []
    assert gateway.runtime.health.rounds == 0  # the first probing round is still one interval away
