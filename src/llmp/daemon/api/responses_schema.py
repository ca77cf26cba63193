"""The Responses API's part of the daemon's OpenAPI document (see `openapi.py`).

Kept beside the Responses modules so the bounds here and in `responses_routes`
change together.
"""

from __future__ import annotations

from typing import Any

_STRING = {"type": "string"}
_PART = {"type": "object", "required": ["type"], "properties": {"type": _STRING, "text": _STRING}}
_ITEM = {"type": "object", "properties": {
    "type": _STRING, "role": {"type": "string", "enum": ["assistant", "developer", "system", "user"]},
    "content": {"oneOf": [_STRING, {"type": "array", "items": _PART}]},
    "call_id": _STRING, "name": _STRING, "arguments": _STRING, "output": _STRING}}

RESPONSES_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["model"],
    "properties": {
        "model": {"type": "string", "minLength": 1, "example": "mock-1"},
        "input": {"oneOf": [_STRING, {"type": "array", "items": _ITEM}]},
        "instructions": _STRING,
        "tools": {"type": "array", "items": {"type": "object", "required": ["type"], "properties": {
            "type": _STRING, "name": _STRING, "parameters": {"type": "object"}}}},
        "tool_choice": {"oneOf": [_STRING, {"type": "object"}]},
        "parallel_tool_calls": {"type": "boolean"},
        "max_output_tokens": {"type": "integer", "minimum": 1, "maximum": 10_000_000},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "text": {"type": "object", "properties": {"format": {"type": "object"}}},
        "reasoning": {"type": "object", "properties": {"effort": _STRING, "summary": _STRING}},
        "stream": {"type": "boolean"},
        "store": {"type": "boolean"},
        "metadata": {"type": "object"},
        "user": _STRING,
        "include": {"type": "array", "items": _STRING},
        "previous_response_id": _STRING,
    },
}


def responses_paths(operation: Any, answers: Any, client_errors: tuple[int, ...],
                    upstream_errors: tuple[int, ...]) -> dict[str, Any]:
    """The `/v1/responses` routes, built with `openapi.py`'s helpers."""
    stored = [{"name": "response_id", "in": "path", "required": True, "schema": _STRING,
               "description": "a stored response's id"}]
    return {
        "/v1/responses": {"post": operation(
            "OpenAI Responses API, streamed or not, for every provider", "ResponsesRequest",
            responses=answers("a response, or an SSE stream of response events",
                              *client_errors, *upstream_errors))},
        "/v1/responses/{response_id}": {
            "get": operation("A stored response", None, parameters=stored,
                             responses=answers("the response", 401, 404)),
            "delete": operation("Forget a stored response", None, parameters=stored,
                                responses=answers("deleted", 401, 404)),
        },
    }
