"""The OpenAI-compatible endpoints under `/v1`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from llmp.daemon.api.dispatch import error_response, serve
from llmp.daemon.api.openai_wire import OPENAI
from llmp.daemon.api.validation import (
    parse_json_object,
    validate_chat,
    validate_completion,
    validate_embedding,
)
from llmp.daemon.errors import ClientError
from llmp.daemon.routes import ROUTES
from llmp.daemon.runtime import RUNTIME, Runtime


def _endpoint(
    runtime: Runtime, operation: str, validate: Callable[[dict[str, Any]], None]
) -> Callable[[web.Request], Any]:
    max_depth = runtime.config.server.limits.max_json_depth

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            body = parse_json_object(await request.read(), max_depth)
            validate(body)
        except ClientError as error:
            return error_response(request, OPENAI, error)
        return await serve(request, runtime, OPENAI, operation, body)

    return handler


async def list_models(request: web.Request) -> web.Response:
    return web.Response(
        body=request.app[RUNTIME].models_payload, content_type="application/json"
    )


async def get_model(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    runtime = request.app[RUNTIME]
    if name not in runtime.resolver.known_names():
        try:
            runtime.resolver.resolve(name)
        except ClientError as error:
            return error_response(request, OPENAI, error)
    return web.json_response(
        {"id": name, "object": "model", "created": int(runtime.started_at),
         "owned_by": name.split("/", 1)[0] if "/" in name else "llmp"}
    )


def add_routes(app: web.Application) -> None:
    routes = app[ROUTES]
    runtime = app[RUNTIME]
    for path, operation, validate in (("/v1/chat/completions", "chat", validate_chat),
                                      ("/v1/completions", "completions", validate_completion),
                                      ("/v1/embeddings", "embeddings", validate_embedding)):
        routes.post(path, _endpoint(runtime, operation, validate), (operation, OPENAI.name))
    routes.get("/v1/models", list_models, ("models", OPENAI.name))
    routes.get("/v1/models/{name:.+}", get_model, ("models", OPENAI.name))
