"""Everything the running daemon holds: config, providers, router, counters.

One `Runtime` per daemon process, stored on the aiohttp application. Providers
are created (with their pooled HTTP sessions) at start and closed at stop.
"""

from __future__ import annotations

import logging
import os
import time

import aiohttp
import orjson
from aiohttp import web

from llmp import __version__
from llmp.core.config_loader import LoadedConfig, apply_preset
from llmp.core.config_schema import ProviderConfig
from llmp.daemon.context import RequestContext, RequestObserver
from llmp.daemon.providers.base import Provider
from llmp.daemon.providers.registry import adapter_for
from llmp.daemon.routing.clock import Clock, Sleeper
from llmp.daemon.routing.health import HealthChecker
from llmp.daemon.routing.resolver import Resolver
from llmp.daemon.routing.router import Router
from llmp.daemon.telemetry.metrics import Metrics

log = logging.getLogger("llmp.daemon")


class Runtime:
    def __init__(
        self, loaded: LoadedConfig, token: str, *, clock: Clock | None = None,
        sleeper: Sleeper | None = None,
    ) -> None:
        self.loaded = loaded
        self.config = loaded.config
        self.token = token
        self.version = __version__
        self.started_at = time.time()
        self.requests_total = 0
        self.in_flight = 0
        self.observers: list[RequestObserver] = []
        #: Told only of requests that failed (most requests do not): no call per request.
        self.failure_observers: list[RequestObserver] = []
        #: Clients must present a key or token (`server.auth`): each request is then admitted
        #: against its client's models and limits.
        self.client_auth = self.config.server.auth.enabled
        self.metrics = Metrics(in_flight=lambda: self.in_flight)  # /metrics; routing reports here too
        self.providers: dict[str, Provider] = {
            name: adapter_for(spec.type or "openai")(name, spec)
            for name, spec in self.config.providers.items()
        }
        self.router = Router(self.providers, clock=clock, sleeper=sleeper)
        self.health = HealthChecker(self.router)
        self.router.breakers.observers.append(
            lambda breaker, old, new: self.metrics.record_circuit_transition(
                breaker.name, old.value, new.value))
        self.health.observers.append(self.metrics.record_health_check)
        self._rebuild_routes()

    def _rebuild_routes(self) -> None:
        served = {
            name: provider.config.models
            for name, provider in self.providers.items()
            if provider.config.enabled
        }
        self.resolver = Resolver(self.config, served)
        created = int(self.started_at)
        data = [
            {"id": name, "object": "model", "created": created, "owned_by": _owner(name)}
            for name in self.resolver.known_names()
        ]
        self.models_payload = orjson.dumps({"object": "list", "data": data})

    async def start(self) -> None:
        if self.loaded.source is None and "ollama" not in self.providers:
            await self._discover_ollama()
        for provider in self.providers.values():
            await provider.start()
        self.health.start()

    async def close(self) -> None:
        await self.health.stop()
        for provider in self.providers.values():
            await provider.close()

    async def _discover_ollama(self) -> None:
        """With no config file, a local Ollama that answers joins the defaults."""
        base = ollama_base_url()
        try:
            timeout = aiohttp.ClientTimeout(total=0.5)
            async with aiohttp.ClientSession(timeout=timeout) as session, session.get(
                base + "/api/tags"
            ) as response:
                if response.status != 200:
                    return
                tags = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return
        models = [str(m["name"]) for m in tags.get("models", []) if isinstance(m, dict) and "name" in m]
        spec = ProviderConfig(base_url=base + "/v1", models=models or ["*"], api_key="none")
        apply_preset("ollama", spec)
        self.config.providers["ollama"] = spec
        self.providers["ollama"] = adapter_for("openai")("ollama", spec)
        self._rebuild_routes()
        log.info("found a local Ollama at %s with %d models", base, len(models))

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
        }


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
REQUEST_ID = web.RequestKey("request_id", str)
