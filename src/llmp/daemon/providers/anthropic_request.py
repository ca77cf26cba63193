"""Canonical (OpenAI Chat Completions) requests as Anthropic Messages requests.

Anthropic differs in ways that change meaning when handled carelessly: system
prompts live outside the turns, tool results are blocks of a user turn, turns
of one role must be merged, `max_tokens` is required, and a thinking block must
go back exactly as it came (signature included) for thinking with tool use to
continue across turns. What cannot be carried over faithfully is refused with
a 400 naming the parameter; what Anthropic simply has no use for is dropped
with a debug log.

Decisions worth knowing:
* `response_format: json_schema` becomes structured output
  (`output_config.format`); `json_object` is refused, since Anthropic cannot
  promise "some JSON object" without a schema.
* `reasoning_effort` becomes extended thinking with a token budget
  (`THINKING_BUDGETS`) that stays below `max_tokens`; a client may instead send
  Anthropic's own `thinking` object, which wins.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from llmp.daemon.errors import ClientError
from llmp.daemon.types import ChatRequest

log = logging.getLogger("llmp.daemon")

DEFAULT_MAX_TOKENS = 4096
MIN_THINKING_BUDGET = 1024  # Anthropic's floor for budget_tokens
THINKING_BUDGETS = {"low": 2048, "medium": 8192, "high": 24576, "xhigh": 32768}
NO_THINKING = ("none", "minimal")
THINKING_FIELDS = {"thinking": ("type", "thinking", "signature"), "redacted_thinking": ("type", "data")}

# Read by this module; every other top-level key is dropped (and logged).
_HANDLED = frozenset({
    "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens",
    "temperature", "top_p", "n", "stop", "tools", "tool_choice", "parallel_tool_calls",
    "user", "response_format", "reasoning_effort",
})
# Anthropic's own parameters, accepted from OpenAI clients (`extra_body`) and sent as they are.
NATIVE_EXTRAS = ("thinking", "top_k", "cache_control")


def to_anthropic(request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
    system, turns = _turns(list(request.get("messages") or []))
    if not turns:
        raise ClientError("Anthropic needs at least one user or assistant message with content.",
                          param="messages")
    body: dict[str, Any] = {"model": model, "messages": turns}
    if system:
        plain = len(system) == 1 and set(system[0]) == {"type", "text"}
        body["system"] = system[0]["text"] if plain else system
    body["max_tokens"] = request.get("max_completion_tokens") or request.get("max_tokens")
    for name in ("temperature", "top_p"):
        if request.get(name) is not None:
            body[name] = request[name]  # type: ignore[literal-required]
    stop = request.get("stop")
    if stop:
        stops = [stop] if isinstance(stop, str) else stop
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise ClientError("'stop' must be a string or an array of strings.", param="stop")
        body["stop_sequences"] = stops
    if request.get("n") not in (None, 1):
        raise ClientError("Anthropic returns one choice per request; 'n' must be 1.", param="n")
    _tools(request, body)
    user = request.get("user")
    if user:
        body["metadata"] = {"user_id": user}
    _response_format(request.get("response_format"), body)
    extras: dict[str, Any] = request  # type: ignore[assignment]
    for name in NATIVE_EXTRAS:
        if extras.get(name) is not None:
            body[name] = extras[name]
    _thinking(request.get("reasoning_effort"), body)
    if not body["max_tokens"]:
        # Anthropic requires it; a thinking budget counts towards it, so leave room for the answer.
        thinking = body.get("thinking")
        budget = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
        body["max_tokens"] = DEFAULT_MAX_TOKENS + (budget if isinstance(budget, int) else 0)
    if stream:
        body["stream"] = True
    if request.get("logit_bias"):
        # Unlike `seed` or `logprobs`, dropping a bias would change the answer itself.
        raise ClientError("'logit_bias' is not supported by Anthropic, which has no logit bias.",
                          param="logit_bias")
    dropped = sorted(set(request) - _HANDLED - set(NATIVE_EXTRAS))
    if dropped:
        log.debug("parameters Anthropic has no use for, not sent: %s", ", ".join(dropped))
    return body


# -- messages ------------------------------------------------------------------


def _turns(messages: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """System blocks, and alternating turns with consecutive same-role messages merged."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            system.extend(_content_blocks(content, where, allow_images=False))
            continue
        if role == "user":
            blocks = _content_blocks(content, where)
        elif role == "assistant":
            blocks = _assistant_blocks(message, where)
        elif role == "tool":
            role, blocks = "user", [_tool_result(message, where)]
        else:
            raise ClientError(
                f"'{where}.role' {role!r} cannot be sent to Anthropic; send tool results as "
                "'tool' messages.", param=f"{where}.role",
            )
        if not blocks:
            log.debug("%s has no content Anthropic accepts; left out", where)
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        blocks = turn["content"]
        if len(blocks) == 1 and set(blocks[0]) == {"type", "text"}:
            turn["content"] = blocks[0]["text"]
    return system, turns


def _content_blocks(content: Any, where: str, *, allow_images: bool = True) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for index, part in enumerate(content):
        at = f"{where}.content[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("text", "refusal"):
            text = part.get(kind)
            if not isinstance(text, str):
                raise ClientError(f"'{at}.{kind}' must be a string.", param=f"{at}.{kind}")
            if not text:
                continue  # Anthropic rejects empty text blocks
            block: dict[str, Any] = {"type": "text", "text": text}
        elif kind == "image_url" and allow_images:
            block = {"type": "image", "source": _image_source(part.get("image_url"), at)}
        elif kind == "file" and allow_images:
            block = _document(part.get("file"), at)
        else:
            raise ClientError(f"'{at}': content of type {kind!r} cannot be sent to Anthropic here.",
                              param=f"{at}.type")
        if "cache_control" in part:
            block["cache_control"] = part["cache_control"]
        blocks.append(block)
    return blocks


def _image_source(image: Any, where: str) -> dict[str, Any]:
    url = image.get("url") if isinstance(image, dict) else image
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return {"type": "url", "url": url}
    media_type, data = _data_url(url, where, "image_url.url")
    return {"type": "base64", "media_type": media_type, "data": data}


def _document(file: Any, where: str) -> dict[str, Any]:
    data_url = file.get("file_data") if isinstance(file, dict) else None
    media_type, data = _data_url(data_url, where, "file.file_data")
    if media_type != "application/pdf":
        raise ClientError(f"'{where}.file': Anthropic takes PDF files only; got {media_type}.",
                          param=f"{where}.file")
    return {"type": "document", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _data_url(url: Any, where: str, field: str) -> tuple[str, str]:
    header, comma, data = url.partition(",") if isinstance(url, str) else ("", "", "")
    media_type, _, encoding = header.removeprefix("data:").partition(";")
    if not header.startswith("data:") or not comma or encoding != "base64" or not media_type:
        raise ClientError(
            f"'{where}.{field}' must be an http(s) URL or a base64 data URL "
            "(data:<media type>;base64,...).", param=f"{where}.{field}",
        )
    return media_type, data


def _assistant_blocks(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    # Thinking comes first and goes back untouched (Anthropic checks the signatures), without
    # what llmp added for streaming (`index`).
    blocks = [
        {key: value for key, value in block.items() if key in THINKING_FIELDS[block["type"]]}
        for block in _list(message.get("thinking_blocks"), f"{where}.thinking_blocks")
        if isinstance(block, dict) and block.get("type") in THINKING_FIELDS
    ]
    blocks.extend(_content_blocks(message.get("content"), where, allow_images=False))
    for index, call in enumerate(_list(message.get("tool_calls"), f"{where}.tool_calls")):
        at = f"{where}.tool_calls[{index}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not function.get("name") or not call.get("id"):
            raise ClientError(f"'{at}' needs an id and a function name.", param=at)
        blocks.append({"type": "tool_use", "id": call["id"], "name": function["name"],
                       "input": _arguments(function.get("arguments"), at)})
    return blocks


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ClientError(f"'{where}' must be an array.", param=where)
    return value


def _arguments(arguments: Any, where: str) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return {}
    try:
        value = orjson.loads(arguments)
    except (orjson.JSONDecodeError, TypeError):
        value = None
    if not isinstance(value, dict):
        raise ClientError(f"'{where}.function.arguments' must be a JSON object in a string.",
                          param=f"{where}.function.arguments")
    return value


def _tool_result(message: dict[str, Any], where: str) -> dict[str, Any]:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise ClientError(f"'{where}.tool_call_id' is required for a tool message.",
                          param=f"{where}.tool_call_id")
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": call_id}
    content = message.get("content")
    blocks = _content_blocks(content, where)
    if isinstance(content, str) and content:
        result["content"] = content
    elif blocks:
        result["content"] = blocks
    return result


# -- parameters ----------------------------------------------------------------


def _tools(request: ChatRequest, body: dict[str, Any]) -> None:
    converted = []
    for index, tool in enumerate(_list(request.get("tools"), "tools")):
        where = f"tools[{index}]"
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or tool.get("type", "function") != "function":
            raise ClientError(f"'{where}': only function tools can be sent to Anthropic.",
                              param=f"{where}.type")
        if not function.get("name"):
            raise ClientError(f"'{where}.function.name' is required.", param=f"{where}.function.name")
        schema = function.get("parameters") or {}
        if not isinstance(schema, dict):
            raise ClientError(f"'{where}.function.parameters' must be a JSON schema object.",
                              param=f"{where}.function.parameters")
        spec: dict[str, Any] = {
            "name": function["name"],
            "input_schema": schema if "type" in schema else {"type": "object", "properties": {}, **schema},
        }
        if function.get("description"):
            spec["description"] = function["description"]
        if function.get("strict") is not None:
            spec["strict"] = function["strict"]
        if "cache_control" in tool:
            spec["cache_control"] = tool["cache_control"]
        converted.append(spec)
    if converted:
        body["tools"] = converted
    choice = _tool_choice(request.get("tool_choice"), request.get("parallel_tool_calls"))
    if choice is not None and converted:
        body["tool_choice"] = choice
    elif choice is not None:
        log.debug("tool_choice without tools is not sent to Anthropic")


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    named = {"auto": "auto", "none": "none", "required": "any"}
    if choice is None:
        converted = {"type": "auto"} if parallel is False else None
    elif isinstance(choice, str) and choice in named:
        converted = {"type": named[choice]}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict) and (
        choice["function"].get("name")
    ):
        converted = {"type": "tool", "name": choice["function"]["name"]}
    else:
        raise ClientError("'tool_choice' must be auto, none, required or "
                          "{\"type\": \"function\", \"function\": {\"name\": ...}}.", param="tool_choice")
    if converted is not None and parallel is False and converted["type"] != "none":
        converted["disable_parallel_tool_use"] = True
    return converted


def _response_format(response_format: Any, body: dict[str, Any]) -> None:
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind in (None, "text"):
        return
    if kind == "json_schema":
        spec = response_format.get("json_schema")  # type: ignore[union-attr]
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise ClientError("'response_format.json_schema.schema' must be a JSON schema object.",
                              param="response_format")
        body["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        return
    if kind == "json_object":
        raise ClientError(
            "Anthropic cannot honour response_format 'json_object' (JSON without a schema); "
            "send 'json_schema' with a schema instead.", param="response_format",
        )
    raise ClientError(f"'response_format.type' {kind!r} is not supported.", param="response_format")


def _thinking(effort: Any, body: dict[str, Any]) -> None:
    if effort is None or effort in NO_THINKING or "thinking" in body:
        return
    if not isinstance(effort, str) or effort not in THINKING_BUDGETS:
        raise ClientError(
            f"'reasoning_effort' must be one of {', '.join([*NO_THINKING, *THINKING_BUDGETS])}.",
            param="reasoning_effort",
        )
    budget = THINKING_BUDGETS[effort]
    limit = body["max_tokens"]
    if limit and limit <= MIN_THINKING_BUDGET:
        raise ClientError(
            f"reasoning_effort needs max_tokens above {MIN_THINKING_BUDGET} on Anthropic, whose "
            "thinking budget counts towards max_tokens.", param="max_tokens",
        )
    if limit:
        budget = min(budget, limit - 1)
    body["thinking"] = {"type": "enabled", "budget_tokens": budget}
