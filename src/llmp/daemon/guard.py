"""The guard every route's handler runs behind: checks and error shaping for every request.

* Every request gets an id (the client's `x-request-id` when it sent a printable one),
  returned in the response's `x-request-id` and put on every log line the
  request causes (see `request_log_context`).
* The Host header must name this machine or a configured name: a web page that
  rebinds its DNS to 127.0.0.1 cannot reach the daemon.
* Admin endpoints need the per-run token.
* Client credentials, when configured, guard the client API, and on an address
  other machines reach also what describes the gateway (`INFORMATIONAL_PATHS`).
* The security screen (origin, client credentials, a body that arrives in
  time) runs next, in `security.screen`.
* aiohttp's own errors (404, 405, 413, ...) and any unexpected exception are
  answered in the client's wire shape; nothing inside ever leaks as a 500 page.

It wraps each handler where its route is added (see `routes`), not as an
aiohttp middleware.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from llmp.core.config_schema import ServerConfig
from llmp.daemon.api.admin import ADMIN_PREFIX, token_ok
from llmp.daemon.context import new_request_id
from llmp.daemon.routes import Answered, Handler, Refused
from llmp.daemon.security.exposure import is_loopback
from llmp.daemon.security.policy import Security
from llmp.daemon.security.refusal import refuse
from llmp.daemon.security.screen import read_body, screen
from llmp.daemon.telemetry.request_log_context import REQUEST_ID_VAR

log = logging.getLogger("llmp.daemon")
http_log = logging.getLogger("llmp.http")
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
MAX_HOST_VERDICTS = 256
CLIENT_API_PREFIX = "/v1/"
#: Paths that describe the gateway (its providers, models, counts and costs): behind client
#: credentials, like the client API, once the daemon listens where other machines reach it.
INFORMATIONAL_PATHS = ("/metrics", "/openapi.json")


def client_request_id(given: str | None) -> str | None:
    """The client's own request id, when it is printable ASCII (it goes back in a header, into
    every log line, the ledger and the CLI's tables): a byte that is not UTF-8 arrives as a
    lone surrogate, which SQLite refuses, and a control character acts on terminals."""
    if not given:
        return None
    given = given[:128]
    return given if given.isascii() and given.isprintable() else None


def _host_allowed(request: web.Request, server: ServerConfig) -> bool:
    host = (request.host or "").lower()
    if host.startswith("["):
        name = host[: host.find("]") + 1]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    # Any 127.x address, but not a name that merely starts so (127.evil.example can rebind).
    if name in LOOPBACK_NAMES or (name.startswith("127.") and is_loopback(name)):
        return True
    allowed = {h.lower() for h in server.allowed_hosts}
    return name == server.host.lower() or name in allowed or "*" in allowed


class Guard:
    """One application's guard, with its settings at hand rather than looked up per request."""

    def __init__(self, server: ServerConfig, security: Security) -> None:
        self._server = server
        self._security = security
        self._host_verdicts: dict[str | None, bool] = {}  # by Host header: clients send the same few
        #: Told of each /v1 POST that reached its handler, with the handler's answer (bodies).
        self.answered: list[Answered] = []
        #: Told of each /v1 request answered with an error, wherever it was refused.
        self.refused: list[Refused] = []

    def __call__(self, handler: Handler, method: str, path: str | None) -> Handler:
        """`handler` behind the guard.

        What depends only on the route is worked out here, once: whether its
        `path` is an admin or a client API path, and whether its answers go to
        the `answered` hooks. The route that takes any path (`path` None) has
        it worked out per request.
        """
        server, security, answered = self._server, self._security, self.answered
        host_verdicts = self._host_verdicts
        admin = None if path is None else path.startswith(ADMIN_PREFIX)
        client_api = None if path is None else (
            path.startswith(CLIENT_API_PREFIX)
            or (path in INFORMATIONAL_PATHS and not is_loopback(server.host)))
        hooked = method == "POST" and client_api is True
        refused = self.refused

        async def guarded(request: web.Request) -> web.StreamResponse:
            started = time.monotonic()
            request_id = client_request_id(request.headers.get("x-request-id")) or new_request_id()
            REQUEST_ID_VAR.set(request_id)  # for the log, the handlers and the answer's header
            response = await answer(request, request_id)
            if response.status >= 400 and refused and (
                    request.path.startswith(CLIENT_API_PREFIX) if client_api is None else client_api):
                for hook in refused:
                    hook(request, response.status, started)
            return response

        async def answer(request: web.Request, request_id: str) -> web.StreamResponse:
            if http_log.isEnabledFor(logging.DEBUG):
                http_log.debug("%s %s", request.method, request.path)
            host = request.headers.get("Host")
            allowed = host_verdicts.get(host)
            if allowed is None:
                if len(host_verdicts) >= MAX_HOST_VERDICTS:  # a client making up names: stay bounded
                    host_verdicts.clear()
                allowed = host_verdicts[host] = _host_allowed(request, server)
            if not allowed:
                return refuse(request, 403, "Host header not allowed", "permission_error")
            if (request.path.startswith(ADMIN_PREFIX) if admin is None else admin) and not token_ok(request):
                security.failures.record(path=request.path, remote=request.remote, reason="admin token")
                return refuse(request, 401, "admin token missing or wrong", "authentication_error")
            try:
                refusal = screen(request, security, request.path.startswith(CLIENT_API_PREFIX)
                                 if client_api is None else client_api)
                if refusal is None and request.can_read_body:
                    refusal = await read_body(request, server.limits.read_timeout)
                if refusal is not None:
                    return refusal
                response = await handler(request)
                if hooked and answered:
                    for hook in answered:
                        await hook(request, response)
            except web.HTTPException as exc:
                if exc.status < 400:
                    raise
                message = exc.reason
                if exc.status == 413:
                    message = "The request body is too large."
                kind = "not_found_error" if exc.status == 404 else "invalid_request_error"
                return refuse(request, exc.status, message, kind)
            except Exception:
                log.exception("unexpected error serving %s %s", request.method, request.path)
                return refuse(request, 500, "internal error in llmp (see its log)", "server_error")
            if not response.prepared and "x-request-id" not in response.headers:
                response.headers["x-request-id"] = request_id
            return response

        return guarded
