"""The Anthropic-compatible endpoints: point the `anthropic` SDK's base_url at the daemon root.

A body bound only for Anthropic providers is checked for nothing but what
routing needs (a JSON object with a model name) and goes upstream as the client
sent it, whatever newer fields or roles it holds: Anthropic judges it. A body
that some target will translate is checked first, so what cannot be translated
is a clear 400 before anything is sent. The `?beta=true` that Claude Code adds
to the path is a query string, which these routes ignore.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from llmp.daemon.api.anthropic_validation import validate_messages
from llmp.daemon.api.anthropic_wire import ANTHROPIC, PATH_PREFIX
from llmp.daemon.api.dispatch import error_response, serve
from llmp.daemon.api.validation import parse_json_object, require_model
from llmp.daemon.errors import ClientError
from llmp.daemon.providers.anthropic_headers import CLIENT_HEADERS
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
            if _translated(runtime, body["model"]):
                validate_messages(body, count_only=count_only)
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


def _translated(runtime: Runtime, model: str) -> bool:
    """Whether any target of the model's route is a provider that does not speak Anthropic.

    An unknown model counts as not translated: dispatch answers its 404.
    """
    try:
        targets = runtime.resolver.resolve(model).targets
    except ClientError:
        return False
    providers = runtime.providers
    return any(providers[t.provider].native_format != ANTHROPIC.name
               for t in targets if t.provider in providers)


def add_routes(app: web.Application) -> None:
    routes = app[ROUTES]
    runtime = app[RUNTIME]
    routes.post(PATH_PREFIX, _endpoint(runtime, "chat", count_only=False), ("chat", ANTHROPIC.name))
    # An Anthropic provider counts; any other answers llmp's estimate, marked as one.
    routes.post(PATH_PREFIX + "/count_tokens", _endpoint(runtime, "count_tokens", count_only=True),
                ("count_tokens", ANTHROPIC.name))
