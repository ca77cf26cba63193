"""The Anthropic-compatible endpoints: point the `anthropic` SDK's base_url at the daemon root."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from llmp.daemon.api.anthropic_validation import validate_messages
from llmp.daemon.api.anthropic_wire import ANTHROPIC, PATH_PREFIX
from llmp.daemon.api.dispatch import error_response, serve
from llmp.daemon.api.validation import parse_json_object
from llmp.daemon.errors import ClientError
from llmp.daemon.providers.anthropic import CLIENT_BETA
from llmp.daemon.routes import ROUTES
from llmp.daemon.runtime import RUNTIME, Runtime


def _endpoint(runtime: Runtime, operation: str, count_only: bool) -> Callable[[web.Request], Any]:
    max_depth = runtime.config.server.limits.max_json_depth

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            body = parse_json_object(await request.read(), max_depth)
            validate_messages(body, count_only=count_only)
        except ClientError as error:
            return error_response(request, ANTHROPIC, error)
        if count_only:
            body.pop("stream", None)  # counting has no stream form
        token = CLIENT_BETA.set(request.headers.get("anthropic-beta"))
        try:
            return await serve(request, runtime, ANTHROPIC, operation, body)
        finally:
            CLIENT_BETA.reset(token)  # a keep-alive connection may serve its next request in this task

    return handler


def add_routes(app: web.Application) -> None:
    routes = app[ROUTES]
    runtime = app[RUNTIME]
    routes.post(PATH_PREFIX, _endpoint(runtime, "chat", count_only=False))
    # Only an Anthropic provider can count; any other answers a 400 in Anthropic's shape.
    routes.post(PATH_PREFIX + "/count_tokens", _endpoint(runtime, "count_tokens", count_only=True))
