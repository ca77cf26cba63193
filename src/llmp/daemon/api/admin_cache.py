"""`POST /admin/cache/clear`: `llmp cache clear` while the daemon runs (token-guarded).

Clearing through the daemon, rather than in the file behind its back, makes
its memory front forget the same answers. The delete runs on the cache's
writer thread; the handler waits for it off the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from llmp.core.audit import audit
from llmp.daemon.api.validation import parse_json_object
from llmp.daemon.errors import ClientError
from llmp.daemon.routes import ROUTES
from llmp.daemon.runtime import RUNTIME


async def clear_cache(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        raw = await request.read()
        options: dict[str, Any] = parse_json_object(raw, 4) if raw.strip() else {}
        model, before = _options(options)
    except ClientError as error:
        body = {"message": error.message, "type": "invalid_request_error", "param": error.param,
                "code": error.code}
        return web.json_response({"error": body}, status=400)
    store = runtime.response_cache().store
    store.forget_front()
    removed = await asyncio.to_thread(store.clear, model=model, before=before)
    audit("cache_cleared", model=model, before=before, removed=removed)
    return web.json_response({"removed": removed, "bytes": store.bytes})


def _options(options: dict[str, Any]) -> tuple[str | None, float | None]:
    model, before = options.get("model"), options.get("before")
    if model is not None and not isinstance(model, str):
        raise ClientError("model must be a string", param="model")
    if before is not None and (isinstance(before, bool) or not isinstance(before, (int, float))):
        raise ClientError("before must be a Unix time in seconds", param="before")
    return model, before


def add_routes(app: web.Application) -> None:
    app[ROUTES].post("/admin/cache/clear", clear_cache)
