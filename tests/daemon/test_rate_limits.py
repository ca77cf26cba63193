"""Local rate limits: a spent provider is skipped, never sent a request bound to get a 429."""

from __future__ import annotations

import asyncio

import httpx
from aiohttp import web

from tests.daemon.routing_support import (
    MODEL,
    STREAM_EVENTS,
    chunk,
    healthy,
    provider_yaml,
    two_providers,
    wait_until,
)
from tests.support.clock import ManualClock
from tests.support.fake_upstream import sse_json, stream

BODY = {"model": "smart", "messages": [{"role": "user", "content": "x"}]}


def post(gateway, **extra) -> httpx.Response:
    return httpx.post(gateway.base_url + "/chat/completions", json={**BODY, **extra}, timeout=10)


def test_rpm_budget_moves_to_the_next_target(make_gateway, make_upstream) -> None:
    bad, good = make_upstream().always(healthy()), make_upstream().always(healthy())
    clock = ManualClock()
    gateway = make_gateway(two_providers(bad.url, good.url, bad_extra="rate_limit: {rpm: 2}"),
                           clock=clock, sleeper=clock.skip)
    assert [post(gateway).headers["x-llmp-provider"] for _ in range(3)] == ["bad", "bad", "good"]
    clock.advance(61)
    assert post(gateway).headers["x-llmp-provider"] == "bad"
    assert bad.count("/chat/completions") == 3


def test_tpm_counts_real_usage(make_gateway, make_upstream) -> None:
    usage = {**chunk({}), "choices": [],
             "usage": {"prompt_tokens": 90, "completion_tokens": 5, "total_tokens": 95}}
    heavy = stream(sse_json([chunk({"content": "fine"}, "stop"), usage]))
    bad, good = make_upstream().always(heavy), make_upstream().always(healthy())
    clock = ManualClock()
    gateway = make_gateway(two_providers(bad.url, good.url, bad_extra="rate_limit: {tpm: 100}"),
                           clock=clock, sleeper=clock.skip)

    def streamed_by() -> str:
        with httpx.stream("POST", gateway.base_url + "/chat/completions", timeout=10,
                          json={**BODY, "stream": True, "max_tokens": 10}) as response:
            response.read()
            return response.headers["x-llmp-provider"]

    assert streamed_by() == "bad"  # estimated ~12 tokens; the answer reports 95
    assert streamed_by() == "good"  # 95 + ~12 > 100
    clock.advance(61)
    assert streamed_by() == "bad"


def test_max_concurrent_holds_a_slot_until_the_stream_ends(make_gateway, make_upstream) -> None:
    release = asyncio.Event()

    async def held_stream(request: web.Request) -> web.StreamResponse:
        if not (await request.json()).get("stream"):
            return await healthy()(request)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(STREAM_EVENTS[0])
        await release.wait()
        for event in STREAM_EVENTS[1:]:
            await response.write(event)
        return response

    bad, good = make_upstream().always(held_stream), make_upstream().always(healthy())
    gateway = make_gateway(two_providers(bad.url, good.url,
                                         bad_extra="rate_limit: {max_concurrent: 1}"))
    with httpx.stream("POST", gateway.base_url + "/chat/completions", timeout=10,
                      json={**BODY, "stream": True}) as held:
        assert held.headers["x-llmp-provider"] == "bad"
        assert post(gateway).headers["x-llmp-provider"] == "good"
        bad._server.call_soon(release.set)  # type: ignore[union-attr]
        assert "[DONE]" in "".join(held.iter_text())
    wait_until(lambda: gateway.runtime.router.lanes.limiter("bad").in_flight == 0)
    assert post(gateway).headers["x-llmp-provider"] == "bad"


def test_every_target_spent_is_429_with_retry_after(make_gateway, make_upstream) -> None:
    upstream = make_upstream().always(healthy())
    clock = ManualClock()
    config = "providers:\n" + provider_yaml("only", upstream.url, "rate_limit: {rpm: 1}") + \
        f"models:\n  smart: [only/{MODEL}]\n"
    gateway = make_gateway(config, clock=clock, sleeper=clock.skip)
    assert post(gateway).status_code == 200
    clock.advance(20)
    limited = post(gateway)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "40"
    assert limited.json()["error"]["type"] == "rate_limit_error"
    assert upstream.count("/chat/completions") == 1
