"""A client that goes away cancels its upstream request at once (handler cancellation)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from aiohttp import web

from tests.daemon.routing_support import MODEL, STREAM_EVENTS, provider_yaml, wait_until
from tests.support.fake_upstream import hang


def single(url: str) -> str:
    return "providers:\n" + provider_yaml("up", url)


def test_disconnect_before_first_byte_cancels_upstream(make_gateway, make_upstream) -> None:
    upstream = make_upstream().always(hang())
    gateway = make_gateway(single(upstream.url))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(gateway.base_url + "/chat/completions", timeout=0.5,
                   json={"model": f"up/{MODEL}", "messages": [{"role": "user", "content": "x"}]})
    wait_until(lambda: upstream.cancelled == 1)
    wait_until(lambda: gateway.runtime.in_flight == 0)
    assert gateway.runtime.router.stats.get("up", MODEL).in_flight == 0


def test_disconnect_mid_stream_cancels_upstream(make_gateway, make_upstream) -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(STREAM_EVENTS[0])
        await asyncio.sleep(3600)
        return response

    upstream = make_upstream().always(endless)
    gateway = make_gateway(single(upstream.url))
    with httpx.stream("POST", gateway.base_url + "/chat/completions", timeout=10,
                      json={"model": f"up/{MODEL}", "stream": True,
                            "messages": [{"role": "user", "content": "x"}]}) as response:
        first = next(response.iter_raw())
        assert b"chat.completion.chunk" in first
    wait_until(lambda: upstream.cancelled == 1)
    wait_until(lambda: gateway.runtime.in_flight == 0)
    breaker = gateway.runtime.router.breakers.get("up", MODEL)
    assert breaker.state.value == "closed"
