"""The request id on every log line a request causes.

aiohttp serves each request in its own task and tasks copy the context they
start in, so a context variable set by the guard (`daemon.guard`) is visible to
everything the request runs, however deep, and to nothing else. The logging
filter runs on the thread that logs (it sits on the queue handler, before the
queue), which is where the variable has its value.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

REQUEST_ID_VAR: ContextVar[str | None] = ContextVar("llmp_request_id", default=None)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if "request_id" not in record.__dict__:
            request_id = REQUEST_ID_VAR.get()
            if request_id is not None:
                record.request_id = request_id
        return True
