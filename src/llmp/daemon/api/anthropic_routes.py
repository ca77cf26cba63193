"""The Anthropic-compatible endpoints: point the `anthropic` SDK's base_url at the daemon root.

Before routing, only what routing needs is checked (a JSON object with a model
name): a body bound for an Anthropic provider goes upstream as the client sent
it, whatever newer fields or roles it holds. The `?beta=true` that Claude Code
adds to the path is a query string, which these routes ignore.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from llmp.daemon.api.anthropic_wire import ANTHROPIC, PATH_PREFIX
from llmp.daemon.api.dispatch import error_response, serve
from llmp.daemon.api.validation import parse_json_object, require_model
from llmp.daemon.errors import ClientError
from llmp.daemon.providers.anthropic import CLIENT_HEADERS
from llmp.daemon.routes import ROUTES
from llmp.daemon.runtime import RUNTIME, Runtime

#: Headers that change what an Anthropic body means: a pass-through carries them upstream.
PASSED_HEADERS = ("anthropic-beta", "anthropic-version")


def _endpoint(runtime: Runtime, operation: str, count_only: bool) -> Callable[[web.Request], Any]:
    max_depth = runtime.config.server.limits.max_json_depth

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            body = parse_json_object(await request.read(), max_depth)
            require_model(body)
        except ClientError as error:
            return error_response(request, ANTHROPIC, error)
        if count_only:
            body.pop("stream", None)  # counting has no stream form
        headers = request.headers
        token = CLIENT_HEADERS.set({name: headers[name] for name in PASSED_HEADERS if name in headers})
        try:
            return await serve(request, runtime, ANTHROPIC, operation, body)
        finally:
            CLIENT_HEADERS.reset(token)  # a keep-alive connection may serve its next request in this task

    return handler


def add_routes(app: web.Application) -> None:
    routes = app[ROUTES]
    runtime = app[RUNTIME]
    routes.post(PATH_PREFIX, _endpoint(runtime, "chat", count_only=False))
    # An Anthropic provider counts; any other answers llmp's estimate, marked as one.
    routes.post(PATH_PREFIX + "/count_tokens", _endpoint(runtime, "count_tokens", count_only=True))
