"""The request id on every log line a request causes, and on its response.

aiohttp serves each request in its own task and tasks copy the context they
start in, so a context variable set by the middleware is visible to
everything the request runs, however deep, and to nothing else. The logging
filter runs on the thread that logs (it sits on the queue handler, before the
queue), which is where the variable has its value.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

from aiohttp import web

from llmp.daemon.context import new_request_id
from llmp.daemon.middleware import Handler
from llmp.daemon.runtime import REQUEST_ID

REQUEST_ID_VAR: ContextVar[str | None] = ContextVar("llmp_request_id", default=None)
log = logging.getLogger("llmp.http")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if "request_id" not in record.__dict__:
            request_id = REQUEST_ID_VAR.get()
            if request_id is not None:
                record.request_id = request_id
        return True


@web.middleware
async def request_scope(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Runs inside the guard: the id it chose is in `request[REQUEST_ID]`."""
    request_id = request.get(REQUEST_ID) or new_request_id()
    REQUEST_ID_VAR.set(request_id)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s %s", request.method, request.path)
    response = await handler(request)
    if not response.prepared and "x-request-id" not in response.headers:
        response.headers["x-request-id"] = request_id
    return response
