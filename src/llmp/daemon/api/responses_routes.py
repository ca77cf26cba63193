"""`/v1/responses`: the OpenAI Responses API, served through the canonical form for every provider."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from llmp.daemon.api.dispatch import error_response, serve
from llmp.daemon.api.responses_inbound import Call
from llmp.daemon.api.responses_wire import CALL, RESPONSES
from llmp.daemon.api.validation import (
    ARRAY,
    BOOLEAN,
    MAX_TOKENS,
    OBJECT,
    STRING,
    TEMPERATURE,
    check_parameters,
    number_in,
    of_kind,
    parse_json_object,
    require_model,
)
from llmp.daemon.errors import ClientError
from llmp.daemon.routes import ROUTES
from llmp.daemon.runtime import RUNTIME, Runtime

PARAMETERS = {
    "input": of_kind(str, list), "instructions": STRING, "tools": ARRAY, "tool_choice": of_kind(str, dict),
    "parallel_tool_calls": BOOLEAN, "max_output_tokens": MAX_TOKENS, "temperature": TEMPERATURE,
    "top_p": number_in(0, 1), "text": OBJECT, "reasoning": OBJECT, "stream": BOOLEAN, "store": BOOLEAN,
    "metadata": OBJECT, "user": STRING, "include": ARRAY, "previous_response_id": STRING,
}


def validate_responses(body: dict[str, Any]) -> None:
    require_model(body)
    check_parameters(body, PARAMETERS)
    items = body.get("input")
    for index, item in enumerate(items if isinstance(items, list) else ()):
        if not isinstance(item, dict):
            raise ClientError(f"'input[{index}]' must be an object.", param=f"input[{index}]")
    for index, tool in enumerate(body.get("tools") or ()):
        _tool(tool, f"tools[{index}]")
    text_format = (body.get("text") or {}).get("format")
    if text_format is not None and not isinstance(text_format, dict):
        raise ClientError("'text.format' must be an object.", param="text.format")


def _tool(tool: Any, where: str) -> None:
    if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
        raise ClientError(f"'{where}' must be an object with a string 'type'.", param=where)
    if tool["type"] in ("function", "namespace") and not isinstance(tool.get("name"), str):
        raise ClientError(f"'{where}.name' must be a string.", param=f"{where}.name")
    if tool["type"] == "namespace":
        inner = tool.get("tools")
        if not isinstance(inner, list):
            raise ClientError(f"'{where}.tools' must be an array.", param=f"{where}.tools")
        for index, member in enumerate(inner):
            _tool(member, f"{where}.tools[{index}]")


def _endpoint(runtime: Runtime) -> Callable[[web.Request], Any]:
    max_depth = runtime.config.server.limits.max_json_depth

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            body = parse_json_object(await request.read(), max_depth)
            validate_responses(body)
        except ClientError as error:
            return error_response(request, RESPONSES, error)
        token = CALL.set(Call(body))
        try:
            return await serve(request, runtime, RESPONSES, "responses", body)
        finally:
            CALL.reset(token)  # a keep-alive connection may serve its next request in this task

    return handler


def add_routes(app: web.Application) -> None:
    app[ROUTES].post("/v1/responses", _endpoint(app[RUNTIME]))
