"""Endpoints for the CLI, guarded by the per-run token from the state file.

`/healthz` is public (load balancers and `llmp start` probe it) and says nothing
but that the daemon answers; on loopback, also its version.
"""

from __future__ import annotations

import asyncio
import hmac

from aiohttp import web

from llmp.daemon.api import routing_admin
from llmp.daemon.routes import ROUTES
from llmp.daemon.runtime import RUNTIME
from llmp.daemon.security.exposure import is_loopback

ADMIN_PREFIX = "/admin/"
SHUTDOWN = web.AppKey("shutdown", asyncio.Event)


def token_ok(request: web.Request) -> bool:
    expected = request.app[RUNTIME].token
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    # As bytes: compare_digest refuses a str with non-ASCII characters, which anyone can send.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "surrogateescape"), expected.encode())


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "version": request.app[RUNTIME].version})


async def bare_healthz(request: web.Request) -> web.Response:
    """The health answer on an address other machines reach: which version runs is for its
    owner, not for whoever scans the network for known flaws."""
    return web.json_response({"status": "ok"})


async def status(request: web.Request) -> web.Response:
    return web.json_response(request.app[RUNTIME].status())


async def providers(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    listing = []
    for name, provider in runtime.providers.items():
        listing.append({
            "name": name,
            "type": provider.type_name,
            "base_url": provider.config.base_url,
            "models": provider.config.models,
            "enabled": provider.config.enabled and name not in runtime.router.disabled,
            "key_source": provider.key.source,
            "key_state": provider.key.state,
            "key_present": provider.key.present,
            "key_missing": provider.key_missing,
        })
    return web.json_response({"providers": listing})


async def shutdown(request: web.Request) -> web.Response:
    request.app[SHUTDOWN].set()
    return web.json_response({"stopping": True}, status=202)


def add_routes(app: web.Application) -> None:
    routes = app[ROUTES]
    routes.get("/healthz", healthz if is_loopback(app[RUNTIME].config.server.host) else bare_healthz)
    routes.get("/admin/status", status)
    routes.get("/admin/providers", providers)
    routes.post("/admin/shutdown", shutdown)
    routing_admin.add_routes(app)
