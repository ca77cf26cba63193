"""Cheap checks of what OpenAI clients send, before anything is forwarded.

Each failure names the parameter, as OpenAI does, so a client library can show
the user exactly what to fix. Only what the gateway relies on is checked here;
the provider judges the rest.
"""

from __future__ import annotations

from typing import Any

import orjson

from llmp.daemon.errors import ClientError

ROLES = {"system", "developer", "user", "assistant", "tool", "function"}


def parse_json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise ClientError("The request body is empty; send a JSON object.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ClientError(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ClientError("The request body must be a JSON object.")
    return body


def _model(body: dict[str, Any]) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ClientError("'model' is required and must be a non-empty string.", param="model")


def _boolean(body: dict[str, Any], name: str) -> None:
    if name in body and body[name] is not None and not isinstance(body[name], bool):
        raise ClientError(f"'{name}' must be a boolean.", param=name)


def _integer(body: dict[str, Any], name: str, low: int, high: int) -> None:
    value = body.get(name)
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ClientError(f"'{name}' must be an integer from {low} to {high}.", param=name)


def _number(body: dict[str, Any], name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
        raise ClientError(f"'{name}' must be a number from {low:g} to {high:g}.", param=name)


def _stream_options(body: dict[str, Any]) -> None:
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise ClientError("'stream_options' must be an object.", param="stream_options")


def validate_chat(body: dict[str, Any]) -> None:
    _model(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ClientError("'messages' must be a non-empty array.", param="messages")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise ClientError(f"'{where}' must be an object.", param=where)
        role = message.get("role")
        if role not in ROLES:
            raise ClientError(
                f"'{where}.role' must be one of {', '.join(sorted(ROLES))}; got {role!r}.",
                param=f"{where}.role",
            )
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise ClientError(
                f"'{where}.content' must be a string or an array of content parts.",
                param=f"{where}.content",
            )
    _boolean(body, "stream")
    _stream_options(body)
    _integer(body, "n", 1, 128)
    _integer(body, "max_tokens", 1, 10_000_000)
    _integer(body, "max_completion_tokens", 1, 10_000_000)
    _number(body, "temperature", 0, 2)
    _number(body, "top_p", 0, 1)
    for name in ("tools", "functions"):
        if name in body and body[name] is not None and not isinstance(body[name], list):
            raise ClientError(f"'{name}' must be an array.", param=name)


def validate_completion(body: dict[str, Any]) -> None:
    _model(body)
    prompt = body.get("prompt")
    if prompt is not None and not isinstance(prompt, (str, list)):
        raise ClientError("'prompt' must be a string or an array.", param="prompt")
    _boolean(body, "stream")
    _stream_options(body)
    _integer(body, "max_tokens", 1, 10_000_000)
    _number(body, "temperature", 0, 2)


def validate_embedding(body: dict[str, Any]) -> None:
    _model(body)
    value = body.get("input")
    if value is None or value == "" or value == []:
        raise ClientError("'input' is required and must not be empty.", param="input")
    if not isinstance(value, (str, list)):
        raise ClientError("'input' must be a string or an array.", param="input")
    if body.get("stream"):
        raise ClientError("embeddings cannot be streamed.", param="stream")
    _integer(body, "dimensions", 1, 100_000)
