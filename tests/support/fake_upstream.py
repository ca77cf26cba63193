"""A scriptable fake provider: it answers each request the way the test says.

A test queues behaviours (`reply`, `stream`, `fail`, `hang`, `drop`, ...) that
are used one per request in order; when the queue is empty the `default`
behaviour answers. Every request is recorded, so a test can assert exactly
what the gateway sent upstream and how many times.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.threaded import ThreadedServer

Behaviour = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    peer: tuple[str, int] | None = None  # the client's address: one per upstream connection
    raw_path: str = ""  # the path as sent, percent-escapes and all (`path` is decoded)

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Behaviour:
    async def behaviour(request: web.Request) -> web.StreamResponse:
        payload = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return web.Response(
            body=payload.encode() if isinstance(payload, str) else payload,
            status=status,
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    return behaviour


def fail(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Behaviour:
    error = body if body is not None else {
        "error": {"message": f"fake upstream failure {status}", "type": "server_error",
                  "param": None, "code": None}
    }
    return reply(error, status, headers)


def stream(
    events: Iterable[bytes | str],
    *,
    delay: float = 0.0,
    status: int = 200,
    content_type: str = "text/event-stream",
    drop_after: int | None = None,
    linger: float = 0.0,
) -> Behaviour:
    """Send raw SSE bytes one write per item; `drop_after` cuts the connection after N items.

    `linger` keeps the response open that long after the last item, as an
    upstream that is slow to end its body after the terminal event.
    """
    items = [e.encode() if isinstance(e, str) else e for e in events]

    async def behaviour(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=status, headers={"Content-Type": content_type})
        await response.prepare(request)
        for index, item in enumerate(items):
            if delay:  # also before the cut, so what was sent is read before the reset
                await asyncio.sleep(delay)
            if drop_after is not None and index >= drop_after:
                _cut(request)
                return response
            await response.write(item)
        if linger:
            await asyncio.sleep(linger)
        await response.write_eof()
        return response

    return behaviour


def hang(seconds: float = 3600.0) -> Behaviour:
    async def behaviour(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return web.Response(status=504)

    return behaviour


def drop() -> Behaviour:
    """Close the connection without answering."""

    async def behaviour(request: web.Request) -> web.StreamResponse:
        _cut(request)
        return web.Response(status=500)

    return behaviour


def _cut(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


def sse_json(objects: Iterable[Any], done: bool = True) -> list[bytes]:
    """OpenAI-style `data: {...}` events, ending with `data: [DONE]`."""
    events = [f"data: {json.dumps(o)}\n\n".encode() for o in objects]
    if done:
        events.append(b"data: [DONE]\n\n")
    return events


@dataclass
class FakeUpstream:
    default: Behaviour | None = None
    requests: list[Recorded] = field(default_factory=list)
    cancelled: int = 0
    answered: int = 0  # behaviours that ran to their end (the whole response was sent)
    _queue: deque[Behaviour] = field(default_factory=deque)
    _server: ThreadedServer | None = None

    def then(self, *behaviours: Behaviour) -> FakeUpstream:
        self._queue.extend(behaviours)
        return self

    def always(self, behaviour: Behaviour) -> FakeUpstream:
        self._queue.clear()
        self.default = behaviour
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.url

    def start(self, ssl_context: ssl.SSLContext | None = None) -> FakeUpstream:
        """Listen on a free loopback port; over HTTPS with `ssl_context`."""
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server = ThreadedServer(app, ssl_context=ssl_context).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def count(self, path_suffix: str = "") -> int:
        return sum(1 for r in self.requests if r.path.endswith(path_suffix))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            Recorded(request.method, request.path, dict(request.query), dict(request.headers), body,
                     request.transport.get_extra_info("peername") if request.transport else None,
                     request.raw_path.partition("?")[0])
        )
        behaviour = self._queue.popleft() if self._queue else self.default
        if behaviour is None:
            return web.json_response({"error": {"message": "no behaviour scripted"}}, status=500)
        try:
            response = await behaviour(request)
            self.answered += 1
            return response
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
