"""`GET /openapi.json`: the daemon's OpenAPI document (`openapi_spec`).

The document (some hundred kilobytes of dicts and their JSON) is built on the
first request for it, off the event loop, rather than in every daemon's idle
memory: tools and fuzzers ask for it, a gateway serving traffic never does.
"""

from __future__ import annotations

from aiohttp import web

from llmp.daemon.lazy_module import loaded
from llmp.daemon.routes import ROUTES

SPEC = "llmp.daemon.api.openapi_spec"


async def openapi_document(request: web.Request) -> web.Response:
    spec = await loaded(SPEC)  # the document is built by the module's first import
    return web.Response(body=spec.ENCODED, content_type=spec.JSON)


def add_routes(app: web.Application) -> None:
    routes = app[ROUTES]
    routes.get("/openapi.json", openapi_document)
