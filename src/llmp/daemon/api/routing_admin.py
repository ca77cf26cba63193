"""Admin endpoints for routing: provider health, where a model name is routed, and taking a
provider out of rotation.

Switching a provider off or on is written to the audit log: it changes where
the user's requests (and money) go.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from llmp.core.audit import audit
from llmp.daemon.errors import ClientError
from llmp.daemon.routes import ROUTES
from llmp.daemon.routing.report import health_report
from llmp.daemon.runtime import RUNTIME


async def health(request: web.Request) -> web.Response:
    """`?check=1` probes every provider now instead of showing the last results."""
    runtime = request.app[RUNTIME]
    if request.query.get("check", "") not in ("", "0", "false"):
        await runtime.health.check()
    return web.json_response(health_report(runtime.router))


async def route(request: web.Request) -> web.Response:
    """`?model=NAME`: the deployments a request for NAME goes to, in the order they are tried
    (`llmp chat` names them while it waits for a reply)."""
    runtime = request.app[RUNTIME]
    try:
        found = runtime.resolver.resolve(request.query.get("model", ""))
    except ClientError as error:
        return web.json_response({"error": {"message": error.message}}, status=error.status)
    return web.json_response({
        "model": found.requested, "alias": found.alias, "strategy": found.strategy,
        "targets": [{"provider": t.provider, "model": t.model} for t in found.targets],
    })


def switch(enabled: bool) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        runtime = request.app[RUNTIME]
        name = request.match_info["name"]
        if name not in runtime.providers:
            known = ", ".join(runtime.providers) or "none"
            # repr: a reason may not hold a line break, and the name is the client's
            raise web.HTTPNotFound(reason=f"no provider named {name!r} (providers: {known})")
        if enabled:
            runtime.router.disabled.discard(name)
        else:
            runtime.router.disabled.add(name)
        audit("provider_enabled" if enabled else "provider_disabled", provider=name)
        return web.json_response({"name": name, "enabled": enabled})

    return handler


def add_routes(app: web.Application) -> None:
    routes = app[ROUTES]
    routes.get("/admin/providers/health", health)
    routes.get("/admin/route", route)
    routes.post("/admin/providers/{name}/disable", switch(False))
    routes.post("/admin/providers/{name}/enable", switch(True))
