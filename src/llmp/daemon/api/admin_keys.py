"""Admin endpoints for keys (token-guarded like every `/admin/` path).

`keys/reload` makes a key set or removed with `llmp keys` take effect without a
restart: every provider (or the one named) re-reads its key, and the client
keys and JWT secret are read again. `keys/test` checks keys with a real call.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from llmp.core.audit import audit
from llmp.core.keys import key_advice, read_together
from llmp.daemon.routes import ROUTES
from llmp.daemon.runtime import RUNTIME
from llmp.daemon.security.key_check import check_key
from llmp.daemon.security.policy import SECURITY


async def _named(request: web.Request, field: str) -> str | None:
    try:
        # body_exists, not can_read_body: the guard has already read the body to its end.
        body: Any = await request.json() if request.body_exists else {}
    except ValueError:
        raise web.HTTPBadRequest(reason="the body must be a JSON object") from None
    name = body.get(field) if isinstance(body, dict) else None
    if name is not None and not isinstance(name, str):
        raise web.HTTPBadRequest(reason=f"'{field}' must be a string")
    return name


async def reload_keys(request: web.Request) -> web.Response:
    name = await _named(request, "name")
    runtime = request.app[RUNTIME]
    reloaded = [p for n, p in runtime.providers.items() if name is None or n == name]

    def read_keys() -> None:
        with read_together({p.name: p.config for p in reloaded}):
            for provider in reloaded:
                provider.reload_key()
        request.app[SECURITY].reload()

    # Off the event loop: a keyring lookup can block (D-Bus, a locked collection asking to unlock).
    await asyncio.get_running_loop().run_in_executor(None, read_keys)
    audit("keys_reloaded", name=name, providers=[p.name for p in reloaded])
    # Where each key now comes from: the CLI says "the daemon now uses it" only when the
    # keyring's key is the one in use (a key in the environment or the config wins over it).
    sources = {p.name: {"source": p.key.source,
                        "advice": key_advice(p.name, p.config, p.key)} for p in reloaded}
    return web.json_response({"reloaded": [p.name for p in reloaded], "keys": sources})


async def test_keys(request: web.Request) -> web.Response:
    name = await _named(request, "provider")
    providers = request.app[RUNTIME].providers
    if name is not None and name not in providers:
        raise web.HTTPNotFound(reason=f"no provider named {name!r}")  # repr: a reason has no line breaks
    chosen = [providers[name]] if name is not None else list(providers.values())
    results = await asyncio.gather(*(check_key(p) for p in chosen))
    return web.json_response({"results": results})


def add_routes(app: web.Application) -> None:
    routes = app[ROUTES]
    routes.post("/admin/keys/reload", reload_keys)
    routes.post("/admin/keys/test", test_keys)
