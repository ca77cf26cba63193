"""The dashboard's live feed: one server-sent event per second to every open dashboard.

Nothing here runs while no dashboard is open: the first subscriber starts the
ticking task and the last one to leave stops it. A tick reads what telemetry
already keeps (live stats, routing stats and breakers, the request journal the
settler thread fills), is serialised once, and is handed to every subscriber's
small queue; a dashboard too slow to take its events loses the oldest, it
never makes the daemon hold more. The request path does no work for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from itertools import islice
from typing import Any

import orjson
from aiohttp import web

from llmp.daemon.routing.report import health_report
from llmp.daemon.runtime import RUNTIME, Runtime
from llmp.daemon.telemetry.hub import TELEMETRY, Telemetry
from llmp.daemon.telemetry.live_stats import recent
from llmp.daemon.ui.usage_views import today_totals

log = logging.getLogger("llmp.ui")
TICK = 1.0  # seconds between events
TODAY_EVERY = 5  # ticks between reads of today's totals from the ledger
MAX_SUBSCRIBERS = 8  # open dashboards (each an SSE connection)
QUEUE = 4  # events waiting for one slow dashboard before the oldest is dropped
_CLOSED = b""


class Feed:
    def __init__(self, app: web.Application, interval: float = TICK) -> None:
        self._app = app
        self._interval = interval
        self._subscribers: set[asyncio.Queue[bytes]] = set()
        self._task: asyncio.Task[None] | None = None
        self._seen = 0  # journal position the last tick reached
        self._today: dict[str, Any] | None = None
        self.ticks = 0
        self.dropped = 0

    @property
    def full(self) -> bool:
        return len(self._subscribers) >= MAX_SUBSCRIBERS

    @property
    def running(self) -> bool:
        """Whether the ticking task runs (only while a dashboard is open)."""
        return self._task is not None

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def subscribe(self) -> asyncio.Queue[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE)
        self._subscribers.add(queue)
        if self._task is None:
            self._seen = self._telemetry.stats.finished
            self._task = asyncio.get_running_loop().create_task(self._run())
        queue.put_nowait(self._event(self.snapshot(new_requests=False)))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[bytes]) -> None:
        self._subscribers.discard(queue)
        if not self._subscribers and self._task is not None:
            self._task.cancel()
            self._task = None

    async def close(self, _: web.Application | None = None) -> None:
        """At shutdown: end every stream so the server need not wait for them."""
        for queue in list(self._subscribers):
            self._put(queue, _CLOSED)
        if self._task is not None:
            self._task.cancel()
            self._task = None

    @property
    def _telemetry(self) -> Telemetry:
        return self._app[TELEMETRY]

    @property
    def _runtime(self) -> Runtime:
        return self._app[RUNTIME]

    def snapshot(self, *, new_requests: bool = True) -> dict[str, Any]:
        """Everything a dashboard shows live; with `new_requests`, the requests finished since
        the last tick (oldest first)."""
        telemetry, runtime = self._telemetry, self._runtime
        with telemetry.settler.settled():
            stats = telemetry.stats.snapshot()
            journal = telemetry.stats.journal
            fresh = telemetry.stats.finished - self._seen if new_requests else 0
            self._seen = telemetry.stats.finished
            records = list(islice(reversed(journal), min(fresh, len(journal))))
        stats.pop("recent")
        return {
            "now": time.time(),
            "stats": {**stats, "in_flight": runtime.in_flight, "requests": runtime.requests_total,
                      "uptime_s": round(time.time() - runtime.started_at, 1)},
            "today": self._today,
            "providers": health_report(runtime.router)["providers"],
            "requests": [recent(record) for record, _ in reversed(records)],
        }

    async def _run(self) -> None:
        try:
            while True:
                if self.ticks % TODAY_EVERY == 0:
                    await self._read_today()
                self.ticks += 1
                data = self._event(self.snapshot())
                for queue in list(self._subscribers):
                    self._put(queue, data)
                await asyncio.sleep(self._interval)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug here must end the feed, not the daemon
            log.exception("dashboard feed failed")

    async def _read_today(self) -> None:
        ledger = self._telemetry.ledger
        if ledger is None:
            return
        self._today = await asyncio.to_thread(today_totals, ledger.path)

    def _put(self, queue: asyncio.Queue[bytes], data: bytes) -> None:
        if queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
            self.dropped += 1
        queue.put_nowait(data)

    @staticmethod
    def _event(payload: dict[str, Any]) -> bytes:
        return b"event: tick\ndata: " + orjson.dumps(payload) + b"\n\n"


FEED = web.AppKey("ui_feed", Feed)


async def events(request: web.Request) -> web.StreamResponse:
    """`GET /ui/api/events`: the live feed as server-sent events."""
    feed = request.app[FEED]
    if feed.full:
        return web.json_response({"error": {"message": "too many dashboards open", "type":
                                            "rate_limit_error", "param": None, "code": None}}, status=429)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-store"})
    await response.prepare(request)
    queue = feed.subscribe()
    try:
        await response.write(b"retry: 2000\n\n")
        while (data := await queue.get()) is not _CLOSED:
            await response.write(data)
    except (ConnectionResetError, ConnectionError):
        pass  # the dashboard went away
    finally:
        feed.unsubscribe(queue)
    return response

