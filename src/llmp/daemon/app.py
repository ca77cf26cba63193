"""Assembling the aiohttp application from its parts."""

from __future__ import annotations

import asyncio

from aiohttp import web

from llmp.daemon import ui
from llmp.daemon.api import (
    admin,
    admin_cache,
    admin_keys,
    admin_probe,
    admin_reload,
    anthropic_routes,
    openai_routes,
    openapi,
    refusals,
    responses_routes,
)
from llmp.daemon.guard import Guard
from llmp.daemon.routes import ROUTES, Routes
from llmp.daemon.runtime import RUNTIME, Runtime
from llmp.daemon.security.screen import install_security
from llmp.daemon.telemetry import hub as telemetry


def build_app(runtime: Runtime) -> web.Application:
    max_body = runtime.config.server.limits.max_body_bytes
    app = web.Application(client_max_size=max_body)
    app[RUNTIME] = runtime
    app[admin.SHUTDOWN] = asyncio.Event()
    security = install_security(app, runtime)
    guard = Guard(runtime.config.server, security)
    routes = app[ROUTES] = Routes(app.router, guard)
    telemetry.install(app, runtime, guard)  # logs, metrics, usage ledger, live stats
    # Requests refused before serving leave a trace too.
    guard.refused.append(refusals.recorder(runtime, routes))
    admin.add_routes(app)
    admin_keys.add_routes(app)
    admin_reload.add_routes(app)
    admin_cache.add_routes(app)
    openapi.add_routes(app)
    admin_probe.add_routes(app)
    openai_routes.add_routes(app)
    anthropic_routes.add_routes(app)
    responses_routes.add_routes(app)
    ui.add_routes(app)  # the dashboard at /ui
    routes.add_fallback()  # last: every path no route above takes

    async def start_providers(_: web.Application) -> None:
        await runtime.start()

    async def close_providers(_: web.Application) -> None:
        await runtime.close()

    app.on_startup.append(start_providers)
    app.on_cleanup.append(close_providers)
    return app
