"""`GET /admin/probe/{provider}`: what `llmp test` needs to know that `/v1` cannot tell.

A chat completion shows whether a provider answers, but not whether its key is
there, which operations its adapter offers, nor whether its upstream is reachable
and accepts the key before any model is chosen. This endpoint answers those by
asking the upstream for its model list (the cheapest authenticated call most
providers have), so a failure can be placed: no key, unreachable, or refused.
"""

from __future__ import annotations

import time

from aiohttp import web

from llmp.daemon.errors import UpstreamError
from llmp.daemon.routes import ROUTES
from llmp.daemon.runtime import RUNTIME


async def probe(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    name = request.match_info["name"]
    provider = runtime.providers.get(name)
    if provider is None:
        known = ", ".join(runtime.providers) or "none"
        return web.json_response(
            {"error": {"message": f"unknown provider '{name}' (configured: {known})",
                       "type": "not_found_error", "param": None, "code": "provider_not_found"}},
            status=404,
        )
    started = time.monotonic()
    upstream: dict[str, object]
    try:
        if provider.key_missing:  # the upstream is never called without its key
            raise provider.missing_key_error()
        models = await provider.list_models()
        upstream = {"ok": True, "models": models}
    except UpstreamError as error:
        upstream = {"ok": False, "kind": error.kind.value, "status": error.status,
                    "message": error.message}
    upstream["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
    return web.json_response({
        "name": name,
        "type": provider.type_name,
        "enabled": provider.config.enabled,
        "operations": sorted(provider.operations),
        "models": provider.config.models,
        "key": {"present": provider.key.present, "source": provider.key.source,
                "state": provider.key.state, "variable": provider.key.variable,
                "missing": provider.key_missing},
        "upstream": upstream,
    })


def add_routes(app: web.Application) -> None:
    routes = app[ROUTES]
    routes.get("/admin/probe/{name}", probe)
