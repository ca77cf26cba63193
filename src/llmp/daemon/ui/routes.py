"""The dashboard's routes: its page and files, a session API, live events, and the actions.

Everything under `/ui` runs behind the daemon's guard (Host check; a browser's
cross-origin request is refused) and answers with a strict
Content-Security-Policy. The page and its files are public (they hold no
data); every `/ui/api/` call but the sign-in needs the session cookie, and one
that changes something also the CSRF token. The actions reuse the admin API's
own handlers, so the dashboard and the CLI do exactly the same thing.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from aiohttp import web

from llmp.core.audit import audit
from llmp.daemon.api import admin_reload, routing_admin
from llmp.daemon.routes import ROUTES, Handler
from llmp.daemon.routing.report import health_report
from llmp.daemon.runtime import RUNTIME
from llmp.daemon.telemetry.hub import TELEMETRY
from llmp.daemon.telemetry.live_stats import recent
from llmp.daemon.ui import assets, usage_views, views
from llmp.daemon.ui.feed import FEED, Feed, events
from llmp.daemon.ui.sessions import SESSIONS, Sessions, refused, set_cookie, with_session

GROUPS = {"day": "day", "provider": "provider", "model": "model", "alias": "alias", "client": "key"}
_SINCE = re.compile(r"(\d{1,4})([hd])")


async def new_code(request: web.Request) -> web.Response:
    """`POST /admin/ui/code` (admin token): a one-time code for `llmp ui` to hand a browser."""
    return web.json_response({"code": request.app[SESSIONS].new_code(), "path": "/ui/"})


async def sign_in(request: web.Request) -> web.Response:
    """`POST /ui/api/session` with `{"code": ...}`: the code for a session cookie and CSRF token."""
    try:
        body: Any = await request.json()
    except ValueError:
        body = None
    code = body.get("code") if isinstance(body, dict) else None
    found = request.app[SESSIONS].redeem(code) if isinstance(code, str) else None
    if found is None:
        return refused(401, "this sign-in code is unknown, used or expired: run `llmp ui` again")
    cookie, session = found
    audit("dashboard_signed_in", remote=request.remote)  # a browser now holds admin powers
    response = web.json_response(_session_info(request, session.csrf))
    set_cookie(response, cookie)
    return response


async def session_info(request: web.Request) -> web.Response:
    session = request.app[SESSIONS].find(request)
    assert session is not None  # with_session let the request through
    return web.json_response(_session_info(request, session.csrf))


async def sign_out(request: web.Request) -> web.Response:
    request.app[SESSIONS].end(request)
    response = web.json_response({"signed_out": True})
    response.del_cookie("llmp_ui", path="/ui")
    return response


def _session_info(request: web.Request, csrf: str) -> dict[str, Any]:
    runtime, telemetry = request.app[RUNTIME], request.app[TELEMETRY]
    return {"csrf": csrf, "version": runtime.version, "log_bodies": telemetry.log_bodies,
            "ledger": telemetry.ledger is not None}


async def history(request: web.Request) -> web.Response:
    ledger = request.app[TELEMETRY].ledger
    points = [] if ledger is None else await asyncio.to_thread(usage_views.last_hour, ledger.path)
    return web.json_response({"points": points})


async def requests_list(request: web.Request) -> web.Response:
    stats = request.app[TELEMETRY].stats
    with request.app[TELEMETRY].settler.settled():
        entries = list(stats.journal)
    return web.json_response({"requests": [recent(record) for record, _ in reversed(entries)]})


async def request_detail(request: web.Request) -> web.Response:
    telemetry = request.app[TELEMETRY]
    with telemetry.settler.settled():
        entry = views.find(reversed(telemetry.stats.journal), request.match_info["id"])
    if entry is None:
        raise web.HTTPNotFound(reason="no such request among the last ones")
    found = views.detail(entry)
    if telemetry.log_bodies and telemetry.ledger is not None:
        found["bodies"] = await asyncio.to_thread(usage_views.bodies, telemetry.ledger.path,
                                                  found["request_id"])
    return web.json_response(found)


def _usage_query(request: web.Request) -> tuple[float, str]:
    by = GROUPS.get(request.query.get("by", "day"))
    match = _SINCE.fullmatch(request.query.get("since", "7d"))
    if by is None or match is None:
        raise web.HTTPBadRequest(reason="by must be one of day, provider, model, alias, client; "
                                        "since like 24h or 7d")
    seconds = int(match.group(1)) * (3600 if match.group(2) == "h" else 86400)
    return time.time() - seconds, by


async def usage(request: web.Request) -> web.Response:
    ledger = request.app[TELEMETRY].ledger
    since, by = _usage_query(request)
    if ledger is None:
        return web.json_response({"since": since, "by": by, "rows": [], "total": None,
                                  "disabled": True})
    report = await asyncio.to_thread(usage_views.usage, ledger.path, since, by)
    if request.query.get("format") == "csv":
        name = f"llmp-usage-by-{request.query.get('by', 'day')}.csv"
        return web.Response(text=usage_views.usage_csv(report), content_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{name}"'})
    return web.json_response(report)


async def config(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    return web.json_response({
        "source": str(runtime.loaded.source) if runtime.loaded.source else None,
        "reloaded_at": runtime.reloaded_at,
        "config": views.masked_config(runtime.config),
    })


async def check_provider(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    provider = runtime.providers.get(request.match_info["name"])
    if provider is None:
        raise web.HTTPNotFound(reason="no such provider")
    await runtime.health.probe(provider, now=True)
    report = health_report(runtime.router)["providers"]
    return web.json_response(next(p for p in report if p["name"] == provider.name))


def _secured(handler: Handler) -> Handler:
    async def with_headers(request: web.Request) -> web.StreamResponse:
        response = await handler(request)
        if not response.prepared:
            response.headers.update(assets.HEADERS)
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return with_headers


def add_routes(app: web.Application) -> None:
    app[SESSIONS] = Sessions()
    app[FEED] = feed = Feed(app)
    app.on_shutdown.append(feed.close)
    routes = app[ROUTES]
    routes.post("/admin/ui/code", new_code)
    for path in ("/ui", "/ui/"):
        routes.get(path, _secured(assets.index))
    routes.get("/ui/assets/{name:[A-Za-z0-9_./-]+}", _secured(assets.asset))
    routes.post("/ui/api/session", _secured(sign_in))
    routes.get("/ui/api/session", _secured(with_session(session_info)))
    routes.post("/ui/api/session/end", _secured(with_session(sign_out, changes=True)))
    for path, handler in (("/ui/api/events", events), ("/ui/api/history", history),
                          ("/ui/api/requests", requests_list), ("/ui/api/requests/{id}", request_detail),
                          ("/ui/api/usage", usage), ("/ui/api/config", config)):
        routes.get(path, _secured(with_session(handler)))
    for path, handler in (("/ui/api/reload", admin_reload.reload_config),
                          ("/ui/api/providers/{name}/check", check_provider),
                          ("/ui/api/providers/{name}/disable", routing_admin.switch(False)),
                          ("/ui/api/providers/{name}/enable", routing_admin.switch(True))):
        routes.post(path, _secured(with_session(handler, changes=True)))
