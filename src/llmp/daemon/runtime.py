"""Everything the running daemon holds: config, providers, router, counters.

One `Runtime` per daemon process, stored on the aiohttp application. Providers
are created (with their pooled HTTP sessions) at start and closed at stop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from aiohttp import web

from llmp import __version__
from llmp.core.config_loader import ConfigError, LoadedConfig, apply_overrides
from llmp.core.config_schema import Config, ProviderConfig
from llmp.core.keys import read_together
from llmp.core.presets import apply_preset
from llmp.daemon.cache.policy import Policy
from llmp.daemon.config_reload import (
    ReloadError,
    ReloadSummary,
    cancel_all,
    close_when_idle,
    drain_grace,
    keep_startup_options,
    needs_restart,
    retired,
    summarize,
)
from llmp.daemon.context import RequestContext, RequestObserver
from llmp.daemon.providers.base import Provider
from llmp.daemon.providers.registry import adapter_for
from llmp.daemon.routing.clock import Clock, Sleeper
from llmp.daemon.routing.health import HealthChecker
from llmp.daemon.routing.resolver import Resolver
from llmp.daemon.routing.router import Router
from llmp.daemon.telemetry.metrics import Metrics
from llmp.daemon.telemetry.sink_health import HEALTH as SINK_HEALTH

if TYPE_CHECKING:
    from llmp.daemon.cache.service import ResponseCache

log = logging.getLogger("llmp.daemon")


@dataclass
class _Routing:
    """Everything built from one config, ready to be adopted in a single step."""

    loaded: LoadedConfig
    providers: dict[str, Provider]
    resolver: Resolver
    router: Router
    health: HealthChecker


class Runtime:
    def __init__(
        self, loaded: LoadedConfig, token: str, *, clock: Clock | None = None,
        sleeper: Sleeper | None = None, overrides: dict[str, Any] | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.version = __version__
        self.started_at = time.time()
        self.reloaded_at: float | None = None
        self.requests_total = 0
        self.in_flight = 0
        self.observers: list[RequestObserver] = []
        #: Told only of requests that failed (most requests do not): no call per request.
        self.failure_observers: list[RequestObserver] = []
        #: Told the new config after each reload (prices, log level, ...).
        self.reload_listeners: list[Callable[[Config], None]] = []
        #: The command line's --host/--port, applied to a reloaded config as at start.
        self.overrides = overrides or {}
        #: Clients must present a key or token (`server.auth`): each request is then admitted
        #: against its client's models and limits.
        self.client_auth = loaded.config.server.auth.enabled
        self.metrics = Metrics(in_flight=lambda: self.in_flight)  # /metrics; routing reports here too
        self._wall_clock = wall_clock
        #: The response cache when the config turns it on anywhere; None costs a request nothing.
        self.cache: ResponseCache | None = None
        self._clock, self._sleeper = clock, sleeper
        self._as_started = loaded.config.model_copy(deep=True)  # what a restart would change
        self._reloading = asyncio.Lock()
        self._draining: set[asyncio.Task[None]] = set()
        #: Providers a reload replaced whose connections stay open until their requests end.
        self.retiring: list[Provider] = []
        self._adopt(self._routing_for(loaded, self._providers_for(loaded.config, {})), None)
        if Policy(self.config).anything:
            self.response_cache()

    def _providers_for(self, config: Config, running: dict[str, Provider]) -> dict[str, Provider]:
        """One adapter per configured provider; a running one whose settings are unchanged is kept
        (with its pooled connections). Reads keys, which may block: off the loop at reload."""
        providers: dict[str, Provider] = {}
        new = {name: spec for name, spec in config.providers.items()
               if name not in running or running[name].config != spec}
        with read_together(new):
            for name, spec in config.providers.items():
                current = running[name] if name not in new else None
                if current is None:
                    current = adapter_for(spec.type or "openai")(name, spec)
                    current.http.limits = config.server.limits  # what upstream answers may grow to
                providers[name] = current
        return providers

    def _routing_for(self, loaded: LoadedConfig, providers: dict[str, Provider]) -> _Routing:
        """Build routing for a config; raises (and changes nothing) when its aliases do not resolve."""
        served = {name: p.config.models for name, p in providers.items() if p.config.enabled}
        resolver = Resolver(loaded.config, served)
        router = Router(providers, clock=self._clock, sleeper=self._sleeper,
                        max_wait=loaded.config.routing.max_wait)
        router.breakers.observers.append(
            lambda breaker, old, new: self.metrics.record_circuit_transition(
                breaker.name, old.value, new.value))
        health = HealthChecker(router)
        health.observers.append(self.metrics.record_health_check)
        return _Routing(loaded, providers, resolver, router, health)

    def _adopt(self, routing: _Routing, previous: Router | None) -> None:
        """Switch to `routing` in one step (no await): a request sees the old config or the new."""
        if previous is not None:
            routing.router.take_over(previous)
        self.loaded, self.config = routing.loaded, routing.loaded.config
        self.providers, self.resolver = routing.providers, routing.resolver
        self.router, self.health = routing.router, routing.health
        created = int(self.started_at)
        data = [
            {"id": name, "object": "model", "created": created, "owned_by": _owner(name)}
            for name in self.resolver.known_names()
        ]
        self.models_payload = orjson.dumps({"object": "list", "data": data})

    async def start(self) -> None:
        if self.loaded.source is None and await _found_ollama(self.config):
            providers = self._providers_for(self.config, self.providers)
            self._adopt(self._routing_for(self.loaded, providers), self.router)
        for provider in self.providers.values():
            await provider.start()
        self.health.start()
        if self.cache is not None:
            await asyncio.to_thread(lambda: self.cache and self.cache.store)  # open the file off the loop

    async def close(self) -> None:
        await self.health.stop()
        await cancel_all(self._draining)
        for provider in self.providers.values():
            await provider.close()
        if self.cache is not None:
            await asyncio.to_thread(self.cache.close)

    def response_cache(self) -> ResponseCache:
        """The cache, made now if only a request asks for it (`x-llmp-cache: on`).

        Its module (the store, every format's replay) is imported here, not with the
        daemon: a config that never turns the cache on never loads it.
        """
        if self.cache is None:
            from llmp.daemon.cache.service import ResponseCache

            self.cache = ResponseCache(self.config, self._wall_clock)
            self.metrics.cache_bytes.set_function(lambda: self.cache.bytes if self.cache else 0)
        return self.cache

    async def reload(self, loaded: LoadedConfig) -> ReloadSummary:
        """Apply a freshly read config in place (see `config_reload`); `ReloadError` leaves the
        running config as it was."""
        async with self._reloading:
            try:
                apply_overrides(loaded.config, **self.overrides)
                restart = needs_restart(self._as_started, loaded.config)
                keep_startup_options(self.config, loaded.config)
                if loaded.source is None:
                    await _found_ollama(loaded.config)
                providers = await asyncio.to_thread(self._providers_for, loaded.config, self.providers)
                routing = self._routing_for(loaded, providers)
            except ConfigError as exc:
                raise ReloadError(str(exc)) from None
            except Exception as exc:  # a resolver or adapter error names the option at fault
                where = loaded.source or "built-in config"
                raise ReloadError(
                    f"{where}: invalid configuration: {getattr(exc, 'message', exc)}") from None
            old_config, old_providers, old_router = self.config, self.providers, self.router
            for provider in providers.values():
                if old_providers.get(provider.name) is not provider:
                    await provider.start()
            await self.health.stop()
            self._adopt(routing, old_router)
            self.health.start()
            self.reloaded_at = time.time()
            for listener in self.reload_listeners:
                listener(self.config)
            if self.cache is not None:
                self.cache.reconfigure(self.config)
            elif Policy(self.config).anything:
                self.response_cache()
            self._retire(retired(old_providers, providers), old_router)
            summary = summarize(old_config, self.config, old_providers, providers)
        summary.config_file = str(loaded.source) if loaded.source else None
        summary.needs_restart = restart
        return summary

    def _retire(self, leaving: list[Provider], router: Router) -> None:
        """Close replaced providers' connections once the requests still on them have ended."""
        if not leaving:
            return
        names = {p.name for p in leaving}

        def busy() -> bool:
            return any(stats.in_flight > 0 for name in names
                       for stats in router.stats.deployments(name).values())

        def closed(task: asyncio.Task[None]) -> None:
            self._draining.discard(task)
            for provider in leaving:
                self.retiring.remove(provider)

        task = asyncio.get_running_loop().create_task(
            close_when_idle(leaving, busy, router.clock, drain_grace(leaving)))
        self._draining.add(task)
        self.retiring.extend(leaving)
        task.add_done_callback(closed)

    def started(self, ctx: RequestContext) -> None:
        self.in_flight += 1

    def finished(self, ctx: RequestContext) -> None:
        self.in_flight -= 1
        self.requests_total += 1
        if ctx.finished_at is None:
            ctx.finished_at = time.monotonic()
        self.router.finished(ctx)
        for observer in self.observers if ctx.error_kind is None else (
                *self.observers, *self.failure_observers):
            try:
                observer.request_finished(ctx)
            except Exception:  # an observer's bug must never fail a request
                log.exception("request observer failed")

    def status(self) -> dict[str, object]:
        server = self.config.server
        return {
            "running": True,
            "pid": os.getpid(),
            "host": server.host,
            "port": server.port,
            "version": self.version,
            "uptime_s": round(time.time() - self.started_at, 3),
            "requests": self.requests_total,
            "in_flight": self.in_flight,
            "providers": list(self.providers),
            "config_file": str(self.loaded.source) if self.loaded.source else None,
            "reloaded_at": self.reloaded_at,
            "retiring_providers": [p.name for p in self.retiring],
            "telemetry": SINK_HEALTH.snapshot(),
        }


async def _found_ollama(config: Config) -> bool:
    """With no config file, a local Ollama that answers joins the defaults (added to `config`)."""
    if "ollama" in config.providers:
        return False
    base = ollama_base_url()
    try:
        timeout = aiohttp.ClientTimeout(total=0.5)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(
            base + "/api/tags"
        ) as response:
            if response.status != 200:
                return False
            tags = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return False
    models = [str(m["name"]) for m in tags.get("models", []) if isinstance(m, dict) and "name" in m]
    spec = ProviderConfig(base_url=base + "/v1", models=models or ["*"], api_key="none")
    apply_preset("ollama", spec)
    config.providers["ollama"] = spec
    log.info("found a local Ollama at %s with %d models", base, len(models))
    return True


def ollama_base_url() -> str:
    """Where Ollama listens, honouring its own OLLAMA_HOST variable."""
    raw = os.environ.get("OLLAMA_HOST", "").strip() or "127.0.0.1:11434"
    if "://" not in raw:
        raw = "http://" + raw
    scheme, _, rest = raw.partition("://")
    host, _, port = rest.rstrip("/").partition(":")
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    return f"{scheme}://{host}:{port or '11434'}"


def _owner(name: str) -> str:
    return name.split("/", 1)[0] if "/" in name else "llmp"


RUNTIME = web.AppKey("runtime", Runtime)
