"""The daemon's own OpenAPI document, served at `/openapi.json` (see `openapi`).

It describes what llmp accepts (the bounds match `validation.py`), so tools and
the test suite's fuzzer can drive every endpoint from it. It is built once, when
this module is imported on the first request for it: the document never changes
while the daemon runs.
"""

from __future__ import annotations

from typing import Any

import orjson

from llmp import __version__
from llmp.daemon.api.responses_schema import RESPONSES_REQUEST, responses_paths
from llmp.daemon.api.validation import ROLES

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": _ref(schema)}}}


def _answers(ok: str, *errors: int, error: str = "Error") -> dict[str, Any]:
    answers: dict[str, Any] = {"200": {"description": ok, "content": {JSON: {"schema": {"type": "object"}}}}}
    for status in errors:
        answers[str(status)] = {"description": "error", "content": {JSON: {"schema": _ref(error)}}}
    return answers


def _named(what: str) -> list[dict[str, Any]]:
    return [{"name": "name", "in": "path", "required": True, "schema": _STRING, "description": what}]


_CLIENT_ERRORS = (400, 401, 403, 404, 408, 413, 429)
_UPSTREAM_ERRORS = (502, 503, 504)
_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}


def _operation(summary: str, schema: str | None, *, admin: bool = False, **extra: Any) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary}
    if schema is not None:
        operation["requestBody"] = _body(schema)
    if admin:
        operation["security"] = [{"adminToken": []}]
    operation.update(extra)
    return operation


_MESSAGE = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {"type": "string", "enum": sorted(ROLES)},
        "content": {"oneOf": [_NULLABLE_STRING, {"type": "array", "items": {
            "type": "object", "required": ["type"], "properties": {"type": _STRING}}}]},
        "name": _STRING,
    },
}
_BLOCK = {"type": "object", "required": ["type"], "properties": {"type": _STRING, "text": _STRING}}
_ANTHROPIC_MESSAGE = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        # Current clients (Claude Code) put instructions between the turns too.
        "role": {"type": "string", "enum": ["assistant", "developer", "system", "user"]},
        "content": {"oneOf": [_STRING, {"type": "array", "items": _BLOCK}]},
    },
}
_COMMON = {
    "model": {"type": "string", "minLength": 1, "example": "mock-1"},
    "stream": {"type": "boolean"},
    "stream_options": {"type": "object"},
    "max_tokens": {"type": "integer", "minimum": 1, "maximum": 10_000_000},
    "temperature": {"type": "number", "minimum": 0, "maximum": 2},
}
_SCHEMAS: dict[str, Any] = {
    "ChatRequest": {
        "type": "object",
        "required": ["model", "messages"],
        "properties": {
            **_COMMON,
            "messages": {"type": "array", "minItems": 1, "items": _MESSAGE},
            "n": {"type": "integer", "minimum": 1, "maximum": 128},
            "max_completion_tokens": {"type": "integer", "minimum": 1, "maximum": 10_000_000},
            "top_p": {"type": "number", "minimum": 0, "maximum": 1},
            "presence_penalty": {"type": "number", "minimum": -2, "maximum": 2},
            "frequency_penalty": {"type": "number", "minimum": -2, "maximum": 2},
            "seed": {"type": "integer"},
            "stop": {"oneOf": [_STRING, {"type": "array", "items": _STRING}]},
            "user": _STRING,
            "tools": {"type": "array", "items": {"type": "object"}},
        },
    },
    "CompletionRequest": {
        "type": "object",
        "required": ["model"],
        "properties": {**_COMMON, "prompt": {"oneOf": [_STRING, {"type": "array"}]}},
    },
    "EmbeddingRequest": {
        "type": "object",
        "required": ["model", "input"],
        "properties": {
            "model": _COMMON["model"],
            "input": {"oneOf": [{"type": "string", "minLength": 1},
                                {"type": "array", "minItems": 1}]},
            "dimensions": {"type": "integer", "minimum": 1, "maximum": 100_000},
        },
    },
    "MessagesRequest": {
        "type": "object",
        "required": ["model", "max_tokens", "messages"],
        "properties": {
            "model": _COMMON["model"],
            "max_tokens": _COMMON["max_tokens"],
            "messages": {"type": "array", "minItems": 1, "items": _ANTHROPIC_MESSAGE},
            "system": {"oneOf": [_STRING, {"type": "array", "items": _BLOCK}]},
            "stream": {"type": "boolean"},
            "temperature": {"type": "number", "minimum": 0, "maximum": 1},
            "top_p": {"type": "number", "minimum": 0, "maximum": 1},
            "top_k": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
            "stop_sequences": {"type": "array", "items": _STRING},
            "tools": {"type": "array", "items": {"type": "object", "required": ["name"],
                                                 "properties": {"name": {"type": "string", "minLength": 1}}}},
            "tool_choice": {"type": "object", "required": ["type"], "properties": {
                "type": {"type": "string", "enum": ["any", "auto", "none", "tool"]}, "name": _STRING}},
            "metadata": {"type": "object"},
            "thinking": {"type": "object"},
        },
    },
    "KeySelection": {"type": "object", "properties": {"name": _STRING, "provider": _STRING}},
    "AnthropicError": {
        "type": "object",
        "required": ["type", "error"],
        "properties": {"type": {"const": "error"}, "error": {
            "type": "object", "required": ["type", "message"],
            "properties": {"type": _STRING, "message": _STRING}}},
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["message", "type"], "properties": {
            "message": _STRING, "type": _STRING, "param": _NULLABLE_STRING,
            "code": _NULLABLE_STRING}}},
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "llmp", "version": __version__,
             "description": "A local LLM gateway speaking the OpenAI and Anthropic APIs."},
    "paths": {
        "/v1/chat/completions": {"post": _operation(
            "Chat completion, streamed or not", "ChatRequest",
            responses=_answers("a chat.completion, or an SSE stream", *_CLIENT_ERRORS, *_UPSTREAM_ERRORS))},
        "/v1/completions": {"post": _operation(
            "Legacy text completion", "CompletionRequest",
            responses=_answers("a text_completion", *_CLIENT_ERRORS, *_UPSTREAM_ERRORS))},
        "/v1/embeddings": {"post": _operation(
            "Embeddings", "EmbeddingRequest",
            responses=_answers("a list of embeddings", *_CLIENT_ERRORS, *_UPSTREAM_ERRORS))},
        "/v1/messages": {"post": _operation(
            "Anthropic Messages, streamed or not", "MessagesRequest",
            responses=_answers("a message, or an SSE stream", *_CLIENT_ERRORS, *_UPSTREAM_ERRORS,
                               error="AnthropicError"))},
        "/v1/messages/count_tokens": {"post": _operation(
            "Count a Messages request's input tokens (an estimate, header x-llmp-token-count, "
            "where the provider cannot count)", "CountTokensRequest",
            responses=_answers("input_tokens", *_CLIENT_ERRORS, *_UPSTREAM_ERRORS, error="AnthropicError"))},
        "/v1/models": {"get": _operation("Every servable model name", None,
                                         responses=_answers("a model list", 401))},
        "/v1/models/{name}": {"get": _operation(
            "One model", None, parameters=_named("a model name"), responses=_answers("a model", 401, 404))},
        "/healthz": {"get": _operation("Liveness", None, responses=_answers("ok"))},
        "/openapi.json": {"get": _operation("This document", None, responses=_answers("OpenAPI 3.1"))},
        "/metrics": {"get": _operation("Prometheus metrics (text exposition)", None, responses={
            "200": {"description": "metrics", "content": {"text/plain": {"schema": _STRING}}}})},
        "/admin/status": {"get": _operation("Daemon status", None, admin=True,
                                            responses=_answers("status", 401))},
        "/admin/stats": {"get": _operation("Live request statistics", None, admin=True,
                                           responses=_answers("stats", 401))},
        "/admin/providers": {"get": _operation("Configured providers", None, admin=True,
                                               responses=_answers("providers", 401))},
        "/admin/providers/health": {"get": _operation(
            "Provider health (check=1 probes now)", None, admin=True,
            parameters=[{"name": "check", "in": "query", "schema": _STRING}],
            responses=_answers("health", 401))},
        "/admin/route": {"get": _operation(
            "The deployments a model name is routed to, in order", None, admin=True,
            parameters=[{"name": "model", "in": "query", "required": True, "schema": _STRING}],
            responses=_answers("route", 401, 404))},
        "/admin/providers/{name}/disable": {"post": _operation(
            "Take a provider out of rotation", None, admin=True, parameters=_named("a provider"),
            responses=_answers("disabled", 401, 404))},
        "/admin/providers/{name}/enable": {"post": _operation(
            "Put a provider back in rotation", None, admin=True, parameters=_named("a provider"),
            responses=_answers("enabled", 401, 404))},
        "/admin/probe/{name}": {"get": _operation(
            "Key, operations and upstream reachability of one provider", None, admin=True,
            parameters=_named("a provider"), responses=_answers("probe", 401, 404))},
        "/admin/usage/flush": {"post": _operation(
            "Commit finished requests to the usage ledger now", None, admin=True,
            responses=_answers("flushed", 401))},
        "/admin/shutdown": {"post": _operation("Stop the daemon", None, admin=True,
                                               responses=_answers("stopping", 401))},
        "/admin/reload": {"post": _operation(
            "Re-read the config file and apply it (the server section waits for a restart)", None,
            admin=True, responses=_answers("what changed, and what needs a restart", 400, 401))},
        "/admin/cache/clear": {"post": _operation(
            "Delete cached answers (all, one model's, or those stored before a Unix time)", None,
            admin=True, responses=_answers("how many were removed", 400, 401))},
        "/admin/keys/reload": {"post": _operation(
            "Re-read keys", "KeySelection", admin=True, responses=_answers("reloaded", 400, 401))},
        "/admin/keys/test": {"post": _operation(
            "Check keys with a real call", "KeySelection", admin=True,
            responses=_answers("results", 400, 401, 404))},
    },
    "components": {
        "schemas": _SCHEMAS,
        "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
    },
}
# Counting needs no max_tokens (there is no answer to bound).
_SCHEMAS["CountTokensRequest"] = {**_SCHEMAS["MessagesRequest"], "required": ["model", "messages"]}
_SCHEMAS["ResponsesRequest"] = RESPONSES_REQUEST
DOCUMENT["paths"].update(responses_paths(_operation, _answers, _CLIENT_ERRORS, _UPSTREAM_ERRORS))
# The web dashboard (`daemon/ui`): its page and files, and its API for a signed-in browser.
_UI_CALL = {"parameters": [], "responses": _answers("for the dashboard", 401)}
DOCUMENT["paths"].update({
    "/admin/ui/code": {"post": _operation("A one-time sign-in code for the dashboard", None, admin=True,
                                          responses=_answers("code", 401))},
    "/ui": {"get": _operation("The dashboard page", None, responses=_answers("page"))},
    "/ui/": {"get": _operation("The dashboard page", None, responses=_answers("page"))},
    "/ui/assets/{name}": {"get": _operation("A file of the dashboard", None, parameters=[
        {"name": "name", "in": "path", "required": True, "schema": _STRING}],
        responses=_answers("file", 404))},
    "/ui/api/session": {
        "get": _operation("The session's CSRF token", None, **_UI_CALL),
        "post": _operation("Trade a one-time code for a session cookie", None,
                           responses=_answers("session", 401))},
    "/ui/api/session/end": {"post": _operation("Sign out", None, **_UI_CALL)},
    "/ui/api/events": {"get": _operation("Live figures (server-sent events)", None, **_UI_CALL)},
    "/ui/api/history": {"get": _operation("The last hour, per minute", None, **_UI_CALL)},
    "/ui/api/requests": {"get": _operation("The last requests", None, **_UI_CALL)},
    "/ui/api/requests/{id}": {"get": _operation("One request's attempts", None, parameters=[
        {"name": "id", "in": "path", "required": True, "schema": _STRING}],
        responses=_answers("request", 401, 404))},
    "/ui/api/usage": {"get": _operation("Usage from the ledger", None, **_UI_CALL)},
    "/ui/api/config": {"get": _operation("The effective config, keys masked", None, **_UI_CALL)},
    "/ui/api/reload": {"post": _operation("Reload the config file", None, **_UI_CALL)},
    **{f"/ui/api/providers/{{name}}/{action}": {"post": _operation(
        f"{action.capitalize()} a provider", None, parameters=_named("a provider"),
        responses=_answers(action, 401, 403, 404))} for action in ("check", "disable", "enable")},
})
ENCODED = orjson.dumps(DOCUMENT)
