"""Upstream connections: a pool per provider sized from config, whose waits time nothing out.

Many long streams at once must all reach the upstream; a request that finds
every connection busy waits for one, and that wait counts against neither the
upstream's timeouts (first token, total) nor its circuit.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from aiohttp import web

from llmp.daemon.providers import http as http_module
from tests.daemon.telemetry.upstream_data import stream_events
from tests.daemon.test_openai_sdk import openai_config
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import Gateway

CHAT = {"model": "up/gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "stream": True}


def long_stream(hold: float):
    """The first event at once, the rest `hold` seconds later: a long answer holds its connection."""
    first, *rest = stream_events()

    async def behaviour(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(first)
        await asyncio.sleep(hold)
        for event in rest:
            await response.write(event)
        await response.write_eof()
        return response

    return behaviour


async def stream_all(gateway: Gateway, count: int) -> list[tuple[int, str]]:
    limits = httpx.Limits(max_connections=count + 10)
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=120, limits=limits) as client:
        async def one() -> tuple[int, str]:
            async with client.stream("POST", "/chat/completions", json=CHAT) as response:
                return response.status_code, (await response.aread()).decode()

        return await asyncio.gather(*(one() for _ in range(count)))


def health(gateway: Gateway) -> dict:
    response = httpx.get(gateway.url + "/admin/providers/health", headers=gateway.admin_headers())
    assert response.status_code == 200
    [provider] = response.json()["providers"]
    return provider


def test_many_long_streams_all_reach_the_upstream(make_gateway, upstream: FakeUpstream) -> None:
    """300 streams at once, each longer than the first-token timeout: every one is answered."""
    upstream.always(long_stream(hold=3.0))
    gateway = make_gateway(openai_config(upstream.url, "defaults:\n  timeout: {first_token: 2}\n"))
    answers = asyncio.run(stream_all(gateway, 300))
    assert [status for status, _ in answers] == [200] * 300
    assert all(body.rstrip().endswith("data: [DONE]") for _, body in answers)
    assert upstream.count("/chat/completions") == 300
    assert health(gateway)["circuit"]["state"] == "closed"


def test_a_wait_for_a_busy_pool_is_no_timeout_and_no_failure(
        make_gateway, upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two connections, four streams longer than the first-token timeout: the last two wait
    for a connection past that timeout, then are served in full; nothing counts as a failure."""
    monkeypatch.setattr(http_module, "DEFAULT_CONNECTIONS", 2)
    upstream.always(long_stream(hold=1.5))
    gateway = make_gateway(openai_config(upstream.url, "defaults:\n  timeout: {first_token: 1}\n"))
    answers = asyncio.run(stream_all(gateway, 4))
    assert [status for status, _ in answers] == [200] * 4
    assert all(body.rstrip().endswith("data: [DONE]") for _, body in answers)
    provider = health(gateway)
    assert provider["circuit"]["state"] == "closed"
    assert provider["error_rate_5m"] == 0.0

