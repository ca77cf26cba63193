"""A client that goes away cancels its upstream request at once (handler cancellation)."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from tests.daemon.routing_support import MODEL, STREAM_EVENTS, provider_yaml, wait_until
from tests.support.fake_upstream import hang
from tests.support.json_log import json_log


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


def test_client_gone_mid_write_is_an_abort_not_an_error(make_gateway, make_upstream,
                                                         tmp_path: Path) -> None:
    """A client that resets its connection while events flow (a few per upstream write): the
    daemon's write can fail before the loop has cancelled the handler. That is a client abort
    (499), not an internal error with a traceback, and the upstream is let go. Many rounds,
    since which comes first is up to the loop."""
    rounds = 200
    let_go: list[str] = []

    async def flood(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            while True:  # several events at once, relayed without a pause between them
                await response.write(STREAM_EVENTS[1] * 4)
                await asyncio.sleep(0.0005)
        finally:
            let_go.append(request.path)

    upstream = make_upstream().always(flood)
    with json_log(tmp_path / "llmp.log") as log:
        gateway = make_gateway(single(upstream.url))
        body = json.dumps({"model": f"up/{MODEL}", "stream": True,
                           "messages": [{"role": "user", "content": "x"}]}).encode()
        host, port = gateway.url.removeprefix("http://").split(":")
        for _ in range(rounds):
            with socket.create_connection((host, int(port)), timeout=10) as client:
                client.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: " + host.encode()
                               + b"\r\nContent-Type: application/json\r\nContent-Length: "
                               + str(len(body)).encode() + b"\r\n\r\n" + body)
                assert b"HTTP/1.1 200" in client.recv(4096)
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        wait_until(lambda: len(let_go) == rounds)
        gateway.wait_idle()
        records = log.records()
    assert [r["msg"] for r in records if r["level"] in ("error", "critical") or "exc" in r] == []
    statuses = {(r["status"], r["error_class"]) for r in records if r["logger"] == "llmp.access"}
    assert statuses == {(499, "client_disconnected")}
