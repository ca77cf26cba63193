"""`GET /openapi.json`: the daemon's OpenAPI document (`openapi_spec`).

The document (some hundred kilobytes of dicts and their JSON) is built on the
first request for it, off the event loop, rather than in every daemon's idle
memory: tools and fuzzers ask for it, a gateway serving traffic never does.
"""

from __future__ import annotations

import asyncio
import importlib

from aiohttp import web

from llmp.daemon.routes import ROUTES

SPEC = "llmp.daemon.api.openapi_spec"


async def openapi_document(request: web.Request) -> web.Response:
    spec = await asyncio.to_thread(importlib.import_module, SPEC)  # built by the first import
    return web.Response(body=spec.ENCODED, content_type=spec.JSON)


def add_routes(app: web.Application) -> None:
    routes = app[ROUTES]
    routes.get("/openapi.json", openapi_document)
