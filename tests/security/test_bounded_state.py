"""Per-name state stays bounded: a client making up model names cannot grow the daemon's memory.

Every map keyed by something a client chose (a model name at a provider serving
"*") has a bound; the bounds are shrunk here so a few hundred names cross them,
and the memory llmp's own modules hold is measured with tracemalloc before and
after many more names.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

import llmp
from llmp.daemon.routing import lanes, resolver, router
from llmp.daemon.telemetry import live_stats, metrics, prices
from tests.support.gateway import Gateway

PACKAGE = str(Path(llmp.__file__).parent)
NAME_LENGTH = 200


def held_by_llmp() -> dict[str, int]:
    """Bytes still allocated from each of llmp's own modules (their innermost frame)."""
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(True, PACKAGE + "/*")])
    return {stat.traceback[0].filename: stat.size for stat in snapshot.statistics("filename")}


def ask_for_names(gateway: Gateway, first: int, count: int, *, failing: bool = False) -> None:
    extra = {"mock": {"fail_status": 503}} if failing else {}
    with httpx.Client(base_url=gateway.base_url, timeout=30) as client:
        for i in range(first, first + count):
            model = f"mock/{i:08d}-" + "n" * NAME_LENGTH
            client.post("/chat/completions", json={
                "model": model, "messages": [{"role": "user", "content": "x"}], **extra})
        gateway.wait_idle()
        # The ledger's writer holds a batch until it commits it: measure what is kept, not queued.
        assert client.post(gateway.url + "/admin/usage/flush",
                           headers=gateway.admin_headers()).json() == {"flushed": True}


@pytest.fixture
def small_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    for module, name in ((prices, "MAX_CACHED"), (lanes, "MAX_LANES"), (resolver, "MAX_REMEMBERED"),
                         (router, "MAX_BUDGETS"),
                         (metrics, "MAX_LABEL_VALUES"), (live_stats, "JOURNAL"),
                         (live_stats, "MAX_SAMPLES")):
        monkeypatch.setattr(module, name, 20)


@pytest.mark.parametrize("failing", [False, True], ids=["answered", "failing"])
def test_new_model_names_do_not_grow_memory(
        make_gateway: Callable[..., Gateway], small_bounds: None, failing: bool) -> None:
    """Answered or failing (a failed deployment keeps a breaker and an error), each distinct
    name costs nothing once the bounds are reached."""
    gateway = make_gateway("providers:\n  mock: {type: mock, models: ['*']}\n"
                           "defaults:\n  retry: {attempts: 0}\n"
                           # No circuit opens: every request reaches its deployment.
                           "  circuit_breaker: {failure_threshold: 100000, window: 0.001}\n")
    ask_for_names(gateway, 0, 200, failing=failing)
    tracemalloc.start()
    try:
        ask_for_names(gateway, 200, 100, failing=failing)
        before = held_by_llmp()
        ask_for_names(gateway, 300, 800, failing=failing)
        after = held_by_llmp()
    finally:
        tracemalloc.stop()
    grown = {name: after.get(name, 0) - size for name, size in before.items()}
    grown.update({name: size for name, size in after.items() if name not in before})
    # 800 names of over 200 bytes: anything keeping each one would hold 160 kB more.
    assert {name: size for name, size in grown.items() if size > 40_000} == {}
