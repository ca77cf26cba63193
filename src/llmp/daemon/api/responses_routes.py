"""`/v1/responses`: the OpenAI Responses API, served through the canonical form for every provider."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from llmp.core.paths import resolve_paths
from llmp.daemon.api.dispatch import error_response, serve
from llmp.daemon.api.responses_inbound import Call, input_items, prepare_tools
from llmp.daemon.api.responses_store import ResponseStore
from llmp.daemon.api.responses_wire import CALL, MAX_ID, RESPONSES, not_found
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

STORE = web.AppKey("responses_store", ResponseStore)
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


def _endpoint(runtime: Runtime, store: ResponseStore) -> Callable[[web.Request], Any]:
    max_depth = runtime.config.server.limits.max_json_depth
    reject_dropped = runtime.config.server.responses.unsupported_tools == "reject"

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            body = parse_json_object(await request.read(), max_depth)
            validate_responses(body)
            call = Call(body)
            prepare_tools(call)
            call.reject_dropped = reject_dropped
            previous = body.get("previous_response_id")
            if previous:
                body = await _expand(call, store, previous)
        except ClientError as error:
            return error_response(request, RESPONSES, error)
        token = CALL.set(call)
        dropped = ", ".join(call.dropped) or None
        try:
            answer = await serve(request, runtime, RESPONSES, "responses", body, dropped_tools=dropped)
        finally:
            CALL.reset(token)  # a keep-alive connection may serve its next request in this task
        if call.response is not None and body.get("store", True):
            asked = input_items(call.body.get("input"))
            store.put(call.id, [*call.history, *asked, *call.response["output"]], call.response)
        return answer

    return handler


async def _expand(call: Call, store: ResponseStore, previous: str) -> dict[str, Any]:
    """The body a relaying upstream gets: the stored conversation in full, when llmp holds it.

    An id llmp does not hold may be the upstream's own (a response an OpenAI
    provider stored): it goes to a relaying upstream as it is, and only a
    translated request answers 404 (see `responses_wire`).
    """
    if len(previous) > MAX_ID:
        raise not_found(previous, "previous_response_id")
    stored = await store.get(previous)
    body = call.body
    if stored is None:
        call.unknown_previous = previous
        return body
    call.history = stored[0]
    relayed = {name: value for name, value in body.items() if name != "previous_response_id"}
    relayed["input"] = [*call.history, *input_items(body.get("input"))]
    return relayed


async def get_response(request: web.Request) -> web.Response:
    response_id = request.match_info["response_id"]
    stored = await request.app[STORE].get(response_id)
    if stored is None:
        return error_response(request, RESPONSES, not_found(response_id))
    return web.json_response(stored[1])


async def delete_response(request: web.Request) -> web.Response:
    response_id = request.match_info["response_id"]
    if not await request.app[STORE].delete(response_id):
        return error_response(request, RESPONSES, not_found(response_id))
    return web.json_response({"id": response_id, "object": "response.deleted", "deleted": True})


def add_routes(app: web.Application) -> None:
    runtime = app[RUNTIME]
    settings = runtime.config.server.responses
    store = ResponseStore(resolve_paths().data_dir / "responses.sqlite3",
                          max_age=settings.store_max_age_days * 86400,
                          max_bytes=int(settings.store_max_mb * 1024 * 1024))
    app[STORE] = store

    async def close_store(app: web.Application) -> None:
        store.close()

    app.on_cleanup.append(close_store)
    routes = app[ROUTES]
    responses = ("responses", RESPONSES.name)
    routes.post("/v1/responses", _endpoint(runtime, store), responses)
    routes.get("/v1/responses/{response_id}", get_response, responses)
    routes.delete("/v1/responses/{response_id}", delete_response, responses)
