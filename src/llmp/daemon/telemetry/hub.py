"""Telemetry wired into the daemon: one observer feeding logs, metrics, ledger and live stats.

The event loop only queues each finished request (see `settler`); in batches,
on the one telemetry thread, usage and cost are worked out once per request,
into one `Finished` record that metrics and live stats count, and the same
pass writes each record's access line and ledger row. `install` is the single
call `build_app` makes.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from llmp.core.config_schema import Config
from llmp.core.paths import resolve_paths
from llmp.core.presets import PRESETS
from llmp.daemon.context import RequestContext
from llmp.daemon.guard import Guard
from llmp.daemon.lazy_module import loaded
from llmp.daemon.routes import ROUTES, Answered
from llmp.daemon.routing.report import health_report
from llmp.daemon.runtime import Runtime
from llmp.daemon.telemetry.access_log import AccessLog
from llmp.daemon.telemetry.bodies import record_bodies
from llmp.daemon.telemetry.ledger import Ledger
from llmp.daemon.telemetry.live_stats import LiveStats
from llmp.daemon.telemetry.prices import PriceTable
from llmp.daemon.telemetry.record import Finished, finished
from llmp.daemon.telemetry.request_log_context import REQUEST_ID_VAR
from llmp.daemon.telemetry.settler import Settler
from llmp.daemon.telemetry.usage import tokens_for

TELEMETRY: web.AppKey[Telemetry] = web.AppKey("telemetry")
EXPOSITION = "llmp.daemon.telemetry.exposition"
log = logging.getLogger("llmp.telemetry")


class Telemetry:
    def __init__(self, runtime: Runtime, ledger: Ledger | None) -> None:
        self.runtime = runtime
        self.metrics = runtime.metrics
        self.prices = PriceTable(runtime.config.prices, free=self._runs_locally)
        self.access_log = AccessLog()
        self.stats = LiveStats()
        self.ledger = ledger
        self.log_bodies = ledger is not None and runtime.config.usage.log_bodies
        self.settler = Settler(self._count_batch, self._write)
        self.request_finished = self.settler.add  # the observer hook: a queue append, nothing more

    def reconfigure(self, config: Config) -> None:
        """After a config reload: new prices and usage retention (recording itself is fixed at start)."""
        self.prices = PriceTable(config.prices, free=self._runs_locally)
        if self.ledger is not None:
            self.ledger.retention_days = config.usage.retention_days

    def exposition(self) -> tuple[bytes, str]:
        """`/metrics` and its content type, with every finished request counted."""
        from llmp.daemon.telemetry.exposition import render  # prometheus_client: first scrape only

        with self.settler.settled():
            return render(self.metrics)

    def flush(self) -> bool:
        """Settle what has queued and commit the ledger (tests, shutdown)."""
        self.settler.settle()
        return self.ledger is None or self.ledger.flush()

    def _count_batch(self, batch: list[RequestContext]) -> list[Finished]:
        """Count each request of a batch: the records the writers take next."""
        records = []
        for ctx in batch:
            try:
                records.append(self._count(ctx))
            except Exception:  # a bug here must cost this request's telemetry, not the batch's
                log.exception("telemetry for request %s failed", ctx.request_id)
        return records

    def _write(self, records: list[Finished]) -> float | None:
        """The access lines and the ledger rows of a batch, in one pass of the telemetry thread;
        the seconds until the ledger's next commit is due (None: nothing held)."""
        ledger = self.ledger
        if records:
            self.access_log.requests_finished(records)
            if ledger is not None:
                ledger.record(records)
        return None if ledger is None else ledger.commit_due()

    def _count(self, ctx: RequestContext) -> Finished:
        """Work out a request's usage and cost once, into the record every sink takes."""
        tokens = tokens_for(ctx)
        cost = None if tokens is None else self.prices.cost(ctx.provider, ctx.model, tokens)
        record = finished(ctx, tokens, cost)
        self.metrics.request_finished(record, ctx.tried)
        self.stats.request_finished(record, ctx.tried)
        return record

    def _runs_locally(self, name: str) -> bool:
        provider = self.runtime.providers.get(name)
        if provider is None:
            return False
        preset = PRESETS.get(provider.config.preset or name)
        return provider.type_name == "mock" or bool(preset and preset.local)

    def stats_payload(self) -> dict[str, object]:
        with self.settler.settled():
            snapshot = self.stats.snapshot()
        runtime = self.runtime
        # The same report `llmp providers health` reads, so the two views always agree.
        providers = [{
            "name": entry["name"],
            "enabled": entry["enabled"],
            "health": entry["state"],
            "circuit": entry["circuit"]["state"],
            "last_checked": entry["last_checked"],
            "check_ms": None if entry["check_latency"] is None else round(entry["check_latency"] * 1000, 1),
        } for entry in health_report(runtime.router)["providers"]]
        return {
            **snapshot,
            "uptime_s": round(time.time() - runtime.started_at, 3),
            "requests": runtime.requests_total,
            "in_flight": runtime.in_flight,
            "providers": providers,
        }


def install(app: web.Application, runtime: Runtime, guard: Guard) -> Telemetry:
    usage = runtime.config.usage
    ledger = Ledger(resolve_paths().usage_db, retention_days=usage.retention_days) if usage.enabled else None
    telemetry = Telemetry(runtime, ledger)
    app[TELEMETRY] = telemetry
    runtime.observers.append(telemetry)
    runtime.reload_listeners.append(telemetry.reconfigure)
    if ledger is not None and telemetry.log_bodies:
        guard.answered.append(_body_recorder(ledger, telemetry.settler))
    routes = app[ROUTES]
    routes.get("/metrics", metrics_endpoint)
    routes.get("/admin/stats", stats_endpoint)
    routes.post("/admin/usage/flush", flush_endpoint)

    async def start_writers(_: web.Application) -> None:
        telemetry.settler.start()

    async def close_writers(_: web.Application) -> None:
        telemetry.settler.close()  # first: its last batch has ledger rows in it
        if ledger is not None:
            ledger.close()

    app.on_startup.append(start_writers)
    app.on_cleanup.append(close_writers)
    return telemetry


async def metrics_endpoint(request: web.Request) -> web.Response:
    await loaded(EXPOSITION)  # the first scrape loads prometheus_client, off the loop
    body, content_type = request.app[TELEMETRY].exposition()  # on the loop, which routing counts on
    return web.Response(body=body, headers={"Content-Type": content_type})


async def flush_endpoint(request: web.Request) -> web.Response:
    """Commit every finished request to the ledger now, so `llmp usage` right after a request
    counts it (the writer otherwise commits within its flush interval)."""
    flushed = await asyncio.to_thread(request.app[TELEMETRY].flush)
    return web.json_response({"flushed": flushed})


async def stats_endpoint(request: web.Request) -> web.Response:
    return web.json_response(request.app[TELEMETRY].stats_payload())


def _body_recorder(ledger: Ledger, settler: Settler) -> Answered:
    async def record(request: web.Request, response: web.StreamResponse) -> None:
        await record_bodies(ledger, request, response, REQUEST_ID_VAR.get() or "")
        settler.nudge()  # the bodies are committed by the thread's next pass, which may be asleep

    return record
