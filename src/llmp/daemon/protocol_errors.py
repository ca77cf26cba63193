"""aiohttp's own error answers, in the client's JSON error shape.

aiohttp answers by itself a request it cannot parse (a header or request line
over `server.limits.max_header_bytes`, a method that is not a token, a header
without a colon, a broken length, TLS sent to the plain port) and an exception
that escapes a handler, before or after any route runs, as plain text that an
SDK cannot read. aiohttp 3 has no hook for those answers (aio-libs/aiohttp#3287;
4.0 sends such requests through the middlewares instead). Its one place is
`RequestHandler.handle_error`, so each connection gets a subclass that keeps
aiohttp's logging and its refusal to answer twice, and replaces only the answer.
The same subclass answers the HTTP errors aiohttp raises before the guard runs
(a request target no route can take, such as `*` or `CONNECT host:443`, and an
`Expect` header it does not know) in JSON too, in `finish_response`.
`Runner` is aiohttp's `AppRunner` whose server makes that subclass; the daemon
and the tests serve through it, and tests/security/test_protocol_errors.py pins
the behaviour byte by byte, so an aiohttp upgrade that moves it fails there.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, BadHttpMethod, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from llmp.daemon.context import new_request_id
from llmp.daemon.security.refusal import refuse
from llmp.daemon.telemetry.request_log_context import REQUEST_ID_VAR

MAX_DETAIL = 160  # characters of aiohttp's own description kept in the message


def _detail(exc: BaseException | None, message: str | None) -> str:
    """What was wrong, in one short line: never the request's bytes that aiohttp quotes."""
    if message and "HTTPS" in message:
        return "it is TLS, and llmp speaks plain HTTP here (use http://)"
    if isinstance(exc, LineTooLong):
        return f"the request line or a header is longer than {exc.args[1]} bytes"
    if isinstance(exc, BadHttpMethod):
        return "the method is not a valid token"
    if isinstance(exc, BadHttpMessage):
        first = exc.message.strip().split("\n", 1)[0].rstrip(":. ")
        return first[:MAX_DETAIL] or "it could not be parsed"
    return "it could not be parsed"


def error_answer(
    request: BaseRequest, status: int, exc: BaseException | None, message: str | None = None,
) -> web.Response:
    """The answer to a request aiohttp gave up on, in the shape its path asks for (a request
    that could not be parsed has no path: OpenAI's shape)."""
    if not REQUEST_ID_VAR.get():  # this task's own copy: no request id was given out yet
        REQUEST_ID_VAR.set(new_request_id())
    if status >= 500:
        answer = refuse(request, status, "The request took too long." if status == 504
                        else "internal error in llmp (see its log)", "server_error")
    else:
        answer = refuse(request, status, f"The request is not valid HTTP: {_detail(exc, message)}.",
                        "invalid_request_error", code="bad_http_request")
    answer.force_close()  # where a broken request ends is unknown: the connection cannot go on
    return answer


def http_error_answer(request: BaseRequest, error: web.HTTPException) -> web.Response:
    """aiohttp's own HTTP error (raised before the guard) as the guard would have answered it."""
    text = error.text or ""
    message = text if text and not text.startswith(f"{error.status}:") else error.reason
    return refuse(request, error.status, message,
                  "not_found_error" if error.status == 404 else "invalid_request_error",
                  headers={name: value for name, value in error.headers.items()
                           if name.lower() in ("allow", "retry-after")})


class JsonErrorHandler(RequestHandler):
    """One connection's protocol, answering its errors in JSON."""

    async def finish_response(
        self, request: BaseRequest, resp: web.StreamResponse, start_time: float | None,
    ) -> tuple[web.StreamResponse, bool]:
        if isinstance(resp, web.HTTPException) and resp.status >= 400:  # only what passed no guard
            resp = http_error_answer(request, resp)
        return await super().finish_response(request, resp, start_time)

    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs; raises once bytes went out
        return error_answer(request, status, exc, message)


class JsonErrorServer(web.Server):
    def __call__(self) -> RequestHandler:
        return JsonErrorHandler(self, loop=self._loop, **self._kwargs)


class Runner(web.AppRunner):
    """aiohttp's runner for an application, whose connections answer their errors in JSON."""

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()  # the application starts up here
        kwargs: dict[str, Any] = plain._kwargs
        return JsonErrorServer(plain.request_handler, request_factory=plain.request_factory,
                               handler_cancellation=plain.handler_cancellation, loop=plain._loop,
                               **kwargs)
