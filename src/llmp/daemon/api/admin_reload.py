"""`POST /admin/reload`: apply the edited config file without a restart (token-guarded).

The file is read and validated off the event loop, then applied in one step
(`Runtime.reload`). A config that does not validate changes nothing and is
answered 400 with the loader's own message (file, line, option). Either way
the audit log says what happened: the config decides where requests, and
money, go.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from llmp.core.audit import audit
from llmp.core.config_loader import ConfigError
from llmp.core.redact import redact
from llmp.daemon.config_reload import ReloadError, read_again
from llmp.daemon.routes import ROUTES
from llmp.daemon.runtime import RUNTIME

log = logging.getLogger("llmp.daemon")


async def reload_config(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    source = str(runtime.loaded.source) if runtime.loaded.source else None
    try:
        loaded = await asyncio.to_thread(read_again, runtime.loaded)
        summary = await runtime.reload(loaded)
    except (ConfigError, ReloadError) as exc:
        message = redact(str(exc))
        message = f"config not reloaded (the running config is unchanged): {message}"
        log.warning("%s", message)
        audit("config_reload_failed", config_file=source, error=message)
        error = {"message": message, "type": "invalid_request_error", "param": None,
                 "code": "invalid_config"}
        return web.json_response({"error": error}, status=400)
    details = summary.as_dict()
    audit("config_reloaded", **details)
    log.info("config reloaded from %s: providers added %s, removed %s, changed %s; "
             "needs a restart: %s", source or "built-in defaults", _names(summary.added),
             _names(summary.removed), _names(summary.changed), _names(summary.needs_restart))
    return web.json_response({"reloaded": True, **details})


def _names(names: list[str]) -> str:
    return ", ".join(names) or "none"


def add_routes(app: web.Application) -> None:
    routes = app[ROUTES]
    routes.post("/admin/reload", reload_config)
