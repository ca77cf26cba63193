"""The response cache as `dispatch` sees it: a ticket per request, looked up before routing.

`ResponseCache.ticket` decides (from the policy and the request's headers)
whether the cache takes part, works out the key and looks it up; a hit is
answered at once by `Ticket.answer`, in the client's format and mode, without
routing. Otherwise the request is served as usual and the ticket is told the
answer: `keep_body` for a JSON answer, `tap` and `keep_stream` for a stream,
whose bytes it collects as they pass. The writer thread stores an answer only
when its format's replay finds it whole.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import web

from llmp.core.config_schema import Config
from llmp.core.paths import resolve_paths
from llmp.daemon.cache.key import cache_key
from llmp.daemon.cache.policy import BYPASS, Policy, Wish
from llmp.daemon.cache.replay import REPLAYS, Replay
from llmp.daemon.cache.replay.events import Incomplete
from llmp.daemon.cache.store import Entry, Store
from llmp.daemon.context import RequestContext
from llmp.daemon.providers.base import Forwarded
from llmp.daemon.routing.resolver import Route
from llmp.daemon.telemetry.usage import usage_from_body

log = logging.getLogger("llmp.cache")
JSON = "application/json"
SSE = "text/event-stream"
HeaderMaker = Callable[[RequestContext, str], dict[str, str]]


class ResponseCache:
    def __init__(self, config: Config, clock: Callable[[], float] = time.time,
                 path: Path | None = None) -> None:
        self.policy = Policy(config)
        self.clock = clock
        self.path = path or resolve_paths().cache_db
        self.max_bytes = config.cache.max_bytes
        self.max_entry_bytes = config.cache.max_entry_bytes
        self.memory_entries = config.cache.memory_entries
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        """The file, opened on first use (at start when the config turns the cache on)."""
        if self._store is None:
            self._store = Store(self.path, max_bytes=self.max_bytes,
                                memory_entries=self.memory_entries, clock=self.clock)
        return self._store

    @property
    def bytes(self) -> int:
        return 0 if self._store is None else self._store.bytes

    def reconfigure(self, config: Config) -> None:
        """After a reload: which routes are cached, and the default ttl (the file stays as opened)."""
        self.policy = Policy(config)
        self.max_entry_bytes = config.cache.max_entry_bytes

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def ticket(self, request: web.Request, replay_name: str, operation: str,
               body: dict[str, Any], route: Route, ctx: RequestContext) -> Ticket | None:
        replay = REPLAYS.get(replay_name)
        if replay is None or operation not in replay.operations:
            return None
        wish = self.policy.wish(request.headers, route)
        if wish is None:
            return None
        if (wish is BYPASS or (ctx.stream and operation in replay.body_only)
                or not replay.refused.isdisjoint(body)):
            ctx.cache = "bypass"
            return None
        keyed = body if replay.key_body is None else replay.key_body(body)
        key = cache_key(replay_name, operation, ctx.client_key, keyed, replay.key_extra())
        ticket = Ticket(self, replay, key, wish, body, ctx)
        if not wish.read:
            ctx.cache = "refresh"
        else:
            ctx.cache = "miss"
            if self.store.holds(key):  # a question never asked before: nothing more to do
                ticket.look_up()
        return ticket


class Ticket:
    """One request's business with the cache: its key, what it asked, and what it found."""

    __slots__ = ("_cache", "_ctx", "_parts", "_replay", "_request", "_size", "_wish", "entry",
                 "key", "payload")

    def __init__(self, cache: ResponseCache, replay: Replay, key: bytes, wish: Wish,
                 request: dict[str, Any], ctx: RequestContext) -> None:
        self._cache, self._replay, self.key, self._wish = cache, replay, key, wish
        self._request, self._ctx = request, ctx
        self.entry: Entry | None = None
        self.payload = b""
        self._parts: list[bytes] | None = None
        self._size = 0

    def look_up(self) -> None:
        """Find the answer and put it in this client's mode now, so a failure is only a miss."""
        now = self._cache.clock()
        entry = self._cache.store.get(self.key, now)
        if entry is None or (self._wish.ttl is not None and now - entry.created > self._wish.ttl):
            return
        operation, replay = self._ctx.operation, self._replay
        try:
            if not self._ctx.stream:
                body = (entry.body if entry.mode == "json"
                        else replay.body_from_stream(operation, entry.body, entry.usage))
                self.payload = replay.answer_body(operation, body, self._request)
            elif entry.mode == "json":
                self.payload = replay.stream_from_body(operation, entry.body, self._request)
            else:
                self.payload = replay.restream(operation, entry.body, entry.usage, self._request)
        except Exception as exc:
            log.warning("response cache: entry for %s not replayable (%s)", entry.model, exc)
            return
        self.entry = entry

    async def answer(self, request: web.Request, finished: Callable[[RequestContext], None],
                     headers_for: HeaderMaker) -> web.StreamResponse:
        """The hit, in the client's format and mode; the request is recorded as served by the cache."""
        entry, ctx = self.entry, self._ctx
        assert entry is not None
        ctx.cache = "hit"
        ctx.provider, ctx.model, ctx.status = entry.provider, entry.served_model, 200
        ctx.usage = entry.usage if entry.usage is not None else usage_from_body(entry.body)
        age = str(max(0, int(self._cache.clock() - entry.created)))
        if not ctx.stream:
            ctx.response_body = self.payload
            ctx.first_byte_at = ctx.finished_at = time.monotonic()
            headers = headers_for(ctx, entry.content_type if entry.mode == "json" else JSON)
            headers["age"] = age
            finished(ctx)
            return web.Response(body=self.payload, headers=headers)
        headers = headers_for(ctx, SSE)
        headers.update({"age": age, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        response = web.StreamResponse(headers=headers)
        try:
            await response.prepare(request)
            ctx.first_byte_at = time.monotonic()
            await response.write(self.payload)
        except BaseException:
            ctx.status, ctx.error_kind = 499, "client_disconnected"
            raise
        finally:
            ctx.finished_at = time.monotonic()
            finished(ctx)
        await response.write_eof()
        return response

    # -- after a miss: keeping the answer ------------------------------------------------

    def keep_body(self, status: int, content_type: str, body: bytes,
                  answer: dict[str, Any] | None = None) -> None:
        """Store a JSON answer once found whole: at once when the relay parsed it (`answer`), a
        look at a few members; else on the writer thread, which parses it."""
        if status != 200 or not self._allowed(len(body)):
            return
        if answer is None:
            self._keep("json", content_type, body, None,
                       partial(self._replay.check, self._ctx.operation, body))
            return
        try:
            self._replay.check(self._ctx.operation, body, answer)
        except Incomplete as exc:
            log.debug("response cache: not stored (%s)", exc)
            self._cache.store.dropped += 1
            return
        self._keep("json", content_type, body, None, None)

    def tap(self, first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Collect the stream's bytes as they pass to the client (up to the size allowed)."""
        self._parts, self._size = [first], len(first)
        return self._collect(rest)

    async def _collect(self, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        parts = self._parts
        try:
            async for chunk in rest:
                if parts is not None:
                    self._size += len(chunk)
                    if self._size > self._cache.max_entry_bytes:
                        parts = self._parts = None
                    else:
                        parts.append(chunk)
                yield chunk
        finally:
            close = getattr(rest, "aclose", None)
            if close is not None:
                await close()

    def keep_stream(self, forwarded: Forwarded | None) -> None:
        """Store a stream that reached its end (a relay's terminal event, or a translation's)."""
        ctx = self._ctx
        if self._parts is None or ctx.status != 200 or ctx.error_kind is not None:
            return
        if forwarded is not None and not forwarded.ended:
            return
        if not self._allowed(self._size):
            return
        events = b"".join(self._parts)
        self._keep("sse", SSE, events, ctx.usage,
                   partial(self._replay.body_from_stream, ctx.operation, events))

    def _allowed(self, size: int) -> bool:
        ctx = self._ctx
        return (self._wish.write and size <= self._cache.max_entry_bytes
                and self._cache.policy.provider_allows(ctx.provider, ctx.alias, self._wish.forced))

    def _keep(self, mode: str, content_type: str, body: bytes, usage: dict[str, Any] | None,
              check: Callable[[], object] | None) -> None:
        ctx, now = self._ctx, self._cache.clock()
        ttl = self._wish.ttl if self._wish.ttl is not None else self._cache.policy.ttl
        entry = Entry(self.key, ctx.inbound, ctx.operation, ctx.requested_model, ctx.provider,
                      ctx.model, mode, content_type, usage, body, now, now + ttl)
        self._cache.store.put(entry, check)

