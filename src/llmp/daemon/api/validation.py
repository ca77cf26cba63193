"""Cheap checks of what OpenAI clients send, before anything is forwarded.

Each failure names the parameter, as OpenAI does, so a client library can show
the user exactly what to fix. Only what the gateway relies on is checked here;
the provider judges the rest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from llmp.daemon.errors import ClientError

ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
DEFAULT_MAX_DEPTH = 64
MAX_MODEL_NAME = 512  # ARNs and Hugging Face paths are long; no real model name is near this
#: C0 controls, DEL and C1 controls: no model has them; in a header or a log line they forge one.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")


def parse_json_object(raw: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> dict[str, Any]:
    if not raw or raw.isspace():  # (not strip(): that copies a body of any size)
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


def require_model(body: dict[str, Any]) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ClientError("'model' is required and must be a non-empty string.", param="model")
    # A name goes into errors, log lines and the closest-name search (quadratic in its length):
    # one of megabytes would stall the event loop for seconds and flood the log.
    if len(model) > MAX_MODEL_NAME:
        raise ClientError(f"'model' must be at most {MAX_MODEL_NAME} characters.", param="model")
    # Refused before any upstream is called (and billed): the name reaches URLs, headers, logs.
    found = CONTROL_CHARACTERS.search(model)
    if found is not None:
        raise ClientError(f"'model' must not hold control characters (found U+{ord(found.group()):04X}).",
                          param="model")
    if model.rpartition("/")[2] in (".", ".."):  # a dot segment in a URL path climbs out of it
        raise ClientError("'model' must not end in a '.' or '..' path segment.", param="model")


Check = Callable[[str, Any], None]
_TYPES: dict[type, str] = {str: "a string", dict: "an object", list: "an array", bool: "a boolean"}


def of_kind(*kinds: type) -> Check:
    """A parameter that must be one of `kinds` (bool never counts as a number)."""
    expected = " or ".join(_TYPES[k] for k in kinds)
    bool_allowed = bool in kinds

    def check(name: str, value: Any) -> None:
        if not isinstance(value, kinds) or (isinstance(value, bool) and not bool_allowed):
            raise ClientError(f"'{name}' must be {expected}.", param=name)

    return check


def integer_in(low: int, high: int) -> Check:
    def check(name: str, value: Any) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ClientError(f"'{name}' must be an integer from {low} to {high}.", param=name)

    return check


def number_in(low: float, high: float) -> Check:
    def check(name: str, value: Any) -> None:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
            raise ClientError(f"'{name}' must be a number from {low:g} to {high:g}.", param=name)

    return check


def check_parameters(body: dict[str, Any], checks: dict[str, Check], where: str = "") -> None:
    """Check the parameters the body has (usually a handful), not every one there is.

    A failure names the parameter as `where.name` when `where` is given.
    """
    for name, value in body.items():
        if value is not None:
            check = checks.get(name)
            if check is not None:
                check(f"{where}.{name}" if where else name, value)


BOOLEAN, STRING, OBJECT, ARRAY = of_kind(bool), of_kind(str), of_kind(dict), of_kind(list)
MAX_TOKENS = integer_in(1, 10_000_000)
TEMPERATURE = number_in(0, 2)
CHAT_PARAMETERS: dict[str, Check] = {
    "stream": BOOLEAN, "logprobs": BOOLEAN, "parallel_tool_calls": BOOLEAN, "store": BOOLEAN,
    "presence_penalty": number_in(-2, 2), "frequency_penalty": number_in(-2, 2),
    "top_logprobs": integer_in(0, 20), "seed": integer_in(-(2**63), 2**63 - 1),
    "stop": of_kind(str, list), "user": STRING, "tool_choice": of_kind(str, dict),
    "response_format": OBJECT, "logit_bias": OBJECT, "metadata": OBJECT, "stream_options": OBJECT,
    "n": integer_in(1, 128), "max_tokens": MAX_TOKENS, "max_completion_tokens": MAX_TOKENS,
    "temperature": TEMPERATURE, "top_p": number_in(0, 1), "tools": ARRAY, "functions": ARRAY,
}
COMPLETION_PARAMETERS: dict[str, Check] = {
    "prompt": of_kind(str, list), "stream": BOOLEAN,
    # What the completions bridge carries into a chat request means the same in both APIs.
    **{name: CHAT_PARAMETERS[name] for name in (
        "stream_options", "max_tokens", "temperature", "top_p", "stop", "n", "user", "seed",
        "presence_penalty", "frequency_penalty")},
}
EMBEDDING_PARAMETERS: dict[str, Check] = {"dimensions": integer_in(1, 100_000)}
MESSAGE_FIELDS: dict[str, Check] = {"name": STRING, "tool_call_id": STRING, "tool_calls": ARRAY}


def _content_parts(parts: list[Any], where: str) -> None:
    for index, part in enumerate(parts):
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            param = f"{where}.content[{index}]"
            raise ClientError(f"'{param}' must be an object with a string 'type'.", param=param)


def validate_chat(body: dict[str, Any]) -> None:
    require_model(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ClientError("'messages' must be a non-empty array.", param="messages")
    for index, message in enumerate(messages):
        _message(index, message)
    check_parameters(body, CHAT_PARAMETERS)


def _message(index: int, message: Any) -> None:
    if not isinstance(message, dict):
        raise ClientError(f"'messages[{index}]' must be an object.", param=f"messages[{index}]")
    role = message.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise ClientError(
            f"'messages[{index}].role' must be one of {', '.join(sorted(ROLES))}; got {role!r}.",
            param=f"messages[{index}].role",
        )
    content = message.get("content")
    if isinstance(content, list):
        _content_parts(content, f"messages[{index}]")
    elif content is not None and not isinstance(content, str):
        raise ClientError(
            f"'messages[{index}].content' must be a string or an array of content parts.",
            param=f"messages[{index}].content",
        )
    if len(message) > 2:  # more than role and content
        check_parameters(message, MESSAGE_FIELDS, f"messages[{index}]")


def validate_completion(body: dict[str, Any]) -> None:
    require_model(body)
    check_parameters(body, COMPLETION_PARAMETERS)


def validate_embedding(body: dict[str, Any]) -> None:
    require_model(body)
    value = body.get("input")
    if value is None or value == "" or value == []:
        raise ClientError("'input' is required and must not be empty.", param="input")
    if not isinstance(value, (str, list)):
        raise ClientError("'input' must be a string or an array.", param="input")
    if body.get("stream"):
        raise ClientError("embeddings cannot be streamed.", param="stream")
    check_parameters(body, EMBEDDING_PARAMETERS)
