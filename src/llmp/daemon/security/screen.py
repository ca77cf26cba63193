"""The security checks every request passes before its handler (the guard runs them).

In order: a browser's cross-origin request is refused unless its origin is in
`server.cors_origins` (then a preflight is answered for that origin alone, and
admin endpoints are never reachable from a browser); `/v1` requests must carry
a client key or JWT when `server.auth` is configured (failures are audited);
the request body must arrive within `server.limits.read_timeout` (a client
that trickles its body cannot hold a handler forever).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from llmp.daemon.api.admin import ADMIN_PREFIX
from llmp.daemon.deadline import within
from llmp.daemon.runtime import Runtime
from llmp.daemon.security.client_auth import AuthFailure
from llmp.daemon.security.policy import CLIENT, SECURITY, Security
from llmp.daemon.security.refusal import refuse

log = logging.getLogger("llmp.security")
UI_PREFIX = "/ui"
EXPOSED = "x-request-id, x-llmp-provider, x-llmp-model, x-llmp-attempts, retry-after"


def _cors_origin(request: web.Request) -> str | None:
    """The request's Origin when it is one the config lets call this path, else None."""
    origin = request.headers.get("Origin")
    if origin is None or request.path.startswith(ADMIN_PREFIX):
        return None
    return origin if origin in request.app[SECURITY].server.cors_origins else None


def _dashboard_itself(request: web.Request) -> bool:
    """The dashboard's own page calling its own API: same scheme, host and port, under `/ui`.

    A browser sends `Origin` on every POST, same-origin ones included; only the
    page the daemon itself served at this very address may pass with it.
    """
    return request.path.startswith(UI_PREFIX) and (
        request.headers.get("Origin") == f"{request.scheme}://{request.host}")


def _preflight(request: web.Request, origin: str) -> web.Response:
    return web.Response(status=204, headers={
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": request.headers.get("Access-Control-Request-Headers", ""),
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    })


def screen(request: web.Request, security: Security, client_api: bool) -> web.StreamResponse | None:
    """The answer to a request refused for its origin or its credentials (or a preflight).

    `client_api`: the request is for the client API (`/v1/...`), which client
    credentials guard when they are configured.
    """
    if "Origin" in request.headers:
        origin = _cors_origin(request)
        if origin is None and not _dashboard_itself(request):
            return refuse(request, 403, "Cross-origin requests are not allowed from this origin "
                          "(see server.cors_origins).", "permission_error", code="origin_not_allowed")
        if origin is not None and request.method == "OPTIONS":
            return _preflight(request, origin)
    if client_api and security.auth.enabled:
        try:
            request[CLIENT] = security.auth.authenticate(request.headers)
        except AuthFailure as exc:
            security.failures.record(path=request.path, remote=request.remote, reason=str(exc))
            log.warning("client authentication failed for %s: %s", request.path, exc)
            return refuse(request, 401, str(exc), "authentication_error", code="invalid_api_key",
                          headers={"WWW-Authenticate": 'Bearer realm="llmp"'})
    return None


async def read_body(request: web.Request, timeout: float) -> web.StreamResponse | None:
    """Read the body within `timeout` seconds, or the answer to a client that trickles it or
    garbles its framing."""
    try:
        if request.content.is_eof():  # the whole body is here (the usual case): no timer needed
            await request.read()
        else:
            await within(timeout, request.read())
    except asyncio.TimeoutError:
        late = refuse(request, 408, "The request body did not arrive in time.",
                      "invalid_request_error", code="request_timeout")
        late.force_close()  # the rest of the body may still come: never read it as a request
        return late
    except web.RequestPayloadError as exc:  # bad chunking, or a Content-Encoding that is not
        reason = getattr(exc.__cause__, "message", "") or "its framing is broken"
        garbled = refuse(request, 400, f"The request body could not be read: {reason}.",
                         "invalid_request_error", code="invalid_body")
        garbled.force_close()  # where this body ends is unknown: the connection cannot go on
        request.content.feed_eof()  # and aiohttp must not try to read (and drain) the rest
        return garbled
    return None


async def _cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    origin = _cors_origin(request)
    if origin is not None and "Access-Control-Allow-Origin" not in response.headers:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED
        response.headers["Vary"] = "Origin"


def install_security(app: web.Application, runtime: Runtime) -> Security:
    security = Security(runtime.config.server, lambda name: runtime.providers.get(name))
    app[SECURITY] = security
    if runtime.config.server.cors_origins:  # else every cross-origin request is refused anyway
        app.on_response_prepare.append(_cors_headers)
    if runtime.client_auth:  # per-client token budgets: charged as requests end
        runtime.observers.append(security.limiter)
    runtime.failure_observers.append(security.key_refresher)  # acts on refused keys only
    return security
