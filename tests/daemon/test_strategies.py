"""Each routing strategy, measured by where requests actually went."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter

import httpx

from tests.daemon.routing_support import MODEL, healthy, on_request, provider_yaml, wait_until
from tests.support.clock import ManualClock
from tests.support.fake_upstream import hang


def mock_alias(strategy: str, weights: dict[str, float]) -> str:
    providers = "".join(
        f"  {name}:\n    type: mock\n    models: [mock-1]\n    weight: {weight}\n"
        for name, weight in weights.items()
    )
    targets = ", ".join(f"{name}/mock-1" for name in weights)
    return f"providers:\n{providers}models:\n  pick:\n    strategy: {strategy}\n" \
        f"    targets: [{targets}]\n"


def served_by(gateway, count: int, model: str = "pick") -> list[str]:
    with httpx.Client(base_url=gateway.base_url, timeout=10) as client:
        return [
            client.post("/chat/completions", json={
                "model": model, "messages": [{"role": "user", "content": "x"}],
            }).headers["x-llmp-provider"]
            for _ in range(count)
        ]


def test_weighted_follows_weights(make_gateway) -> None:
    gateway = make_gateway(mock_alias("weighted", {"heavy": 3, "light": 1}))
    counts = Counter(served_by(gateway, 600))
    share = counts["heavy"] / 600
    assert abs(share - 0.75) < 0.06, counts  # 3.4 standard deviations


def test_round_robin_is_exact(make_gateway) -> None:
    gateway = make_gateway(mock_alias("round_robin", {"a": 1, "b": 1, "c": 1}))
    assert served_by(gateway, 9) == ["a", "b", "c"] * 3


def test_fallback_keeps_order(make_gateway) -> None:
    gateway = make_gateway(mock_alias("fallback", {"a": 1, "b": 5}))
    assert served_by(gateway, 5) == ["a"] * 5


def test_least_busy_avoids_the_provider_with_requests_in_flight(make_gateway, make_upstream) -> None:
    busy, idle = make_upstream().always(healthy()), make_upstream().always(healthy())
    busy.then(hang())
    config = "providers:\n" + provider_yaml("busy", busy.url) + provider_yaml("idle", idle.url) + \
        f"models:\n  pick:\n    strategy: least_busy\n    targets: [busy/{MODEL}, idle/{MODEL}]\n"
    gateway = make_gateway(config)
    held = threading.Thread(target=lambda: _ignore_timeout(gateway), daemon=True)
    held.start()
    wait_until(lambda: len(busy.requests) == 1)
    assert served_by(gateway, 3) == ["idle"] * 3
    held.join(10)


def _ignore_timeout(gateway) -> None:
    with contextlib.suppress(httpx.TimeoutException):
        httpx.post(gateway.base_url + "/chat/completions", timeout=0.8,
                   json={"model": "pick", "messages": [{"role": "user", "content": "x"}]})


def test_lowest_latency_prefers_the_faster_provider(make_gateway, make_upstream) -> None:
    clock = ManualClock()
    slow = make_upstream().always(on_request(lambda: clock.advance(0.5), healthy()))
    fast = make_upstream().always(on_request(lambda: clock.advance(0.1), healthy()))
    config = "providers:\n" + provider_yaml("slow", slow.url) + provider_yaml("fast", fast.url) + \
        f"models:\n  pick:\n    strategy: lowest_latency\n    targets: [slow/{MODEL}, fast/{MODEL}]\n"
    gateway = make_gateway(config, clock=clock, sleeper=clock.skip)
    picks = served_by(gateway, 8)
    assert picks[:2] == ["slow", "fast"]  # each unmeasured target is tried once
    assert picks[2:] == ["fast"] * 6
