"""Requests llmp refuses before serving them leave the trace every request leaves.

A body that is not JSON or fails validation, a client that fails
authentication, a body over the size limit, a path with no route: the guard or
the endpoint answers these before `dispatch.serve` runs, so no request context
ever existed for them. A refused request must be as easy to find as a served
one (an access line with its error class, `llmp_requests_total` with provider
`none`, a ledger row, `llmp logs --request ID`), so the guard tells `record` of
each `/v1` answer of 400 or more that `serve` did not record itself, and it
hands the runtime a finished context: the same path, with the same bounds, as
every served request (the telemetry settler batches it off the event loop).
"""

from __future__ import annotations

import time

from aiohttp import web

from llmp.daemon.api.anthropic_wire import PATH_PREFIX as ANTHROPIC_PREFIX
from llmp.daemon.context import RequestContext
from llmp.daemon.routes import Refused, Routes
from llmp.daemon.runtime import Runtime
from llmp.daemon.security.policy import CLIENT
from llmp.daemon.telemetry.request_log_context import REQUEST_ID_VAR

NO_MODEL = "-"  # what a refused request asked for is not known: its body was never read as one
#: Set on a request `dispatch.serve` has taken: its context reaches telemetry however it ends.
TRACED = web.RequestKey("llmp_traced", bool)
#: The error class of a request llmp refused, by status (any other 4xx is the client's error).
ERROR_CLASSES = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "not_allowed",
                 408: "request_timeout", 413: "too_large", 429: "rate_limited"}


def recorder(runtime: Runtime, routes: Routes) -> Refused:
    """The guard's hook: record a refused `/v1` request that `serve` did not record."""

    def record(request: web.Request, status: int, started: float) -> None:
        if TRACED in request:
            return
        operation, inbound = routes.operation_of(request) or (
            "other", "anthropic" if request.path.startswith(ANTHROPIC_PREFIX) else "openai")
        client = request.get(CLIENT)
        ctx = RequestContext(
            request_id=REQUEST_ID_VAR.get() or "", inbound=inbound, operation=operation,
            requested_model=NO_MODEL, stream=False, started=started, status=status,
            error_kind=error_class(status), client_key=client.id if client is not None else None,
        )
        ctx.finished_at = time.monotonic()
        runtime.started(ctx)
        runtime.finished(ctx)

    return record


def error_class(status: int) -> str:
    """The access line's `error_class` of an answer llmp gave itself (no upstream's error)."""
    if status >= 500:
        return "internal_error"
    return ERROR_CLASSES.get(status, "client_error")
