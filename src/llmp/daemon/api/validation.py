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
DEFAULT_MAX_DEPTH = 64


def parse_json_object(raw: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> dict[str, Any]:
    if not raw.strip():
        raise ClientError("The request body is empty; send a JSON object.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ClientError(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ClientError("The request body must be a JSON object.")
    # Nesting can be no deeper than the number of brackets: most bodies skip the walk.
    if raw.count(b"{") + raw.count(b"[") > max_depth and _depth_exceeds(body, max_depth):
        raise ClientError(f"The request body is nested deeper than {max_depth} levels.")
    return body


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Level by level, not recursive: a hostile body cannot exhaust the stack being checked."""
    level = [value]
    for _ in range(limit):
        deeper = []
        for node in level:
            for child in node.values() if type(node) is dict else node:
                if type(child) is dict or type(child) is list:
                    deeper.append(child)
        if not deeper:
            return False
        level = deeper
    return True


def _model(body: dict[str, Any]) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ClientError("'model' is required and must be a non-empty string.", param="model")


def _boolean(body: dict[str, Any], name: str) -> None:
    _typed(body, name, bool)


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


_TYPES: dict[type, str] = {str: "a string", dict: "an object", list: "an array", bool: "a boolean"}


def _typed(body: dict[str, Any], name: str, *kinds: type, where: str = "") -> None:
    """`name`, when present and not null, must be one of `kinds` (bool never counts as a number)."""
    value = body.get(name)
    if value is None or (isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)):
        return
    param = f"{where}.{name}" if where else name
    expected = " or ".join(_TYPES[k] for k in kinds)
    raise ClientError(f"'{param}' must be {expected}.", param=param)


def _content_parts(parts: list[Any], where: str) -> None:
    for index, part in enumerate(parts):
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            param = f"{where}.content[{index}]"
            raise ClientError(f"'{param}' must be an object with a string 'type'.", param=param)


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
        if not isinstance(role, str) or role not in ROLES:
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
        if isinstance(content, list):
            _content_parts(content, where)
        _typed(message, "name", str, where=where)
        _typed(message, "tool_call_id", str, where=where)
        _typed(message, "tool_calls", list, where=where)
    _boolean(body, "stream")
    for flag in ("logprobs", "parallel_tool_calls", "store"):
        _boolean(body, flag)
    _number(body, "presence_penalty", -2, 2)
    _number(body, "frequency_penalty", -2, 2)
    _integer(body, "top_logprobs", 0, 20)
    _integer(body, "seed", -(2**63), 2**63 - 1)
    _typed(body, "stop", str, list)
    _typed(body, "user", str)
    _typed(body, "tool_choice", str, dict)
    for name in ("response_format", "logit_bias", "metadata"):
        _typed(body, name, dict)
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
