"""Assembling the aiohttp application from its parts."""

from __future__ import annotations

import asyncio

from aiohttp import web

from llmp.daemon.api import admin, openai_routes
from llmp.daemon.middleware import guard
from llmp.daemon.runtime import RUNTIME, Runtime
from llmp.daemon.telemetry import hub as telemetry

MAX_BODY_BYTES = 64 * 1024 * 1024  # large enough for several base64 images


def build_app(runtime: Runtime) -> web.Application:
    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY_BYTES)
    app[RUNTIME] = runtime
    app[admin.SHUTDOWN] = asyncio.Event()
    telemetry.install(app, runtime)  # logs, metrics, usage ledger, live stats
    admin.add_routes(app)
    openai_routes.add_routes(app)

    async def start_providers(_: web.Application) -> None:
        await runtime.start()

    async def close_providers(_: web.Application) -> None:
        await runtime.close()

    app.on_startup.append(start_providers)
    app.on_cleanup.append(close_providers)
    return app
