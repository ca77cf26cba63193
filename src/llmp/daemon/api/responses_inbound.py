"""A Responses API request as a canonical (OpenAI chat) one.

Used for every provider: no provider llmp speaks to serves `/responses` in the
canonical form, so items become chat messages here. `instructions` lead as a
system message; `function_call` items join the assistant turn they belong to
(consecutive calls are one turn with several tool calls) and
`function_call_output` items become `tool` messages. Reasoning items are left
out of replayed turns: only the model that wrote them can read them back.

Tools: function tools map one to one; a `namespace` group is flattened to
`<namespace>__<name>` functions (chat has no groups) and `Call.names` maps them
back on the way out; built-in tools (`web_search`, ...) have no chat equivalent
and are left out, named in `Call.dropped` so the client is told.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from llmp.daemon.errors import ClientError

log = logging.getLogger("llmp.daemon")

NAMESPACE_SEPARATOR = "__"
_MAX_DROPPED_NAMED = 16
_UNTAME = re.compile(r"[^A-Za-z0-9_.-]")
_ROLES = frozenset({"user", "assistant", "system", "developer"})


@dataclass(slots=True)
class Call:
    """What one Responses request needs again when its answer is written back."""

    body: dict[str, Any]
    names: dict[str, tuple[str | None, str]] = field(default_factory=dict)  # flat name -> (namespace, name)
    dropped: list[str] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)  # as chat tools, worked out once
    history: list[dict[str, Any]] = field(default_factory=list)  # stored items expanded before `input`
    id: str = field(default_factory=lambda: "resp_" + uuid.uuid4().hex)
    created_at: int = field(default_factory=lambda: int(time.time()))
    sequence: int = 0  # the last stream event's number, so a failure event continues it
    output: list[dict[str, Any]] = field(default_factory=list)  # the items answered so far
    writer: Any = None  # the stream's event writer, once a stream has begun
    response: dict[str, Any] | None = None  # the finished response object, to be stored
    unknown_previous: str | None = None  # a previous_response_id llmp does not hold
    reject_dropped: bool = False  # refuse rather than leave out tools a chat provider cannot run


def to_canonical(call: Call) -> dict[str, Any]:
    body = call.body
    messages: list[dict[str, Any]] = []
    if body.get("instructions"):
        messages.append({"role": "system", "content": body["instructions"]})
    items = [*call.history, *input_items(body.get("input"))]
    for index, item in enumerate(items):
        _add_item(messages, item, f"input[{index}]")
    request: dict[str, Any] = {"model": body["model"], "messages": messages}
    if body.get("max_output_tokens") is not None:
        request["max_tokens"] = body["max_output_tokens"]
    for name in ("temperature", "top_p", "parallel_tool_calls", "user", "mock"):
        if body.get(name) is not None:
            request[name] = body[name]
    effort = (body.get("reasoning") or {}).get("effort")
    if effort:
        request["reasoning_effort"] = effort
    _text_format(body, request)
    if call.tools:
        request["tools"] = call.tools
        choice = _tool_choice(body.get("tool_choice"))
        if choice is not None:
            request["tool_choice"] = choice
    if body.get("stream"):
        request["stream"] = True
        request["stream_options"] = {"include_usage": True}
    return request


def input_items(value: Any) -> list[dict[str, Any]]:
    """`input` as a list of items (a string is one user message)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return list(value)


def _add_item(messages: list[dict[str, Any]], item: dict[str, Any], where: str) -> None:
    kind = item.get("type") or "message"
    if kind == "message":
        role = item.get("role")
        if role not in _ROLES:
            raise ClientError(f"{where}.role must be one of {sorted(_ROLES)}", param=f"{where}.role")
        messages.append({"role": role, "content": _content(item.get("content"), role, where)})
    elif kind == "function_call":
        call = {"id": item.get("call_id"), "type": "function",
                "function": {"name": _flat(item), "arguments": item.get("arguments") or "{}"}}
        last = messages[-1] if messages else None
        if last is not None and last["role"] == "assistant" and last.get("tool_calls") is not None:
            last["tool_calls"].append(call)
        else:
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
    elif kind == "function_call_output":
        messages.append({"role": "tool", "tool_call_id": item.get("call_id"),
                         "content": _output_text(item.get("output"))})
    elif kind == "reasoning":
        log.debug("%s: reasoning item left out; only its own model can read it back", where)
    else:
        raise ClientError(f"{where}: items of type {kind!r} are not supported by llmp's Responses API",
                          param=f"{where}.type")


def _flat(item: dict[str, Any]) -> str:
    name = str(item.get("name") or "")
    namespace = item.get("namespace")
    return f"{namespace}{NAMESPACE_SEPARATOR}{name}" if namespace else name


def _content(content: Any, role: str, where: str) -> Any:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ClientError(f"{where}.content must be a string or a list of parts", param=f"{where}.content")
    parts = [_part(part, f"{where}.content[{i}]") for i, part in enumerate(content)]
    if role != "user" or all(p["type"] == "text" for p in parts):
        # Only user turns carry images and files in chat; others are text.
        return "".join(p.get("text", "") for p in parts)
    return parts


def _part(part: Any, where: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text", "text", "summary_text"):
        return {"type": "text", "text": str(part.get("text") or "")}
    if kind == "refusal":
        return {"type": "text", "text": str(part.get("refusal") or "")}
    if kind == "input_image" and part.get("image_url"):
        image: dict[str, Any] = {"url": part["image_url"]}
        if part.get("detail"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file" and (part.get("file_data") or part.get("file_url")):
        file: dict[str, Any] = {"file_data": part.get("file_data") or part.get("file_url")}
        if part.get("filename"):
            file["filename"] = part["filename"]
        return {"type": "file", "file": file}
    if kind in ("input_image", "input_file"):
        raise ClientError(f"{where}: uploaded file ids are not available through llmp; "
                          "send the image or file inline (a URL or base64 data)", param=where)
    raise ClientError(f"{where}: content parts of type {kind!r} are not supported", param=where)


def _output_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "".join(str(p.get("text") or "") for p in output if isinstance(p, dict))
    return orjson.dumps(output).decode()


def _function(tool: dict[str, Any], name: str) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name, "parameters": tool.get("parameters") or
                                {"type": "object", "properties": {}}}
    if tool.get("description"):
        function["description"] = tool["description"]
    if tool.get("strict") is not None:
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def prepare_tools(call: Call) -> None:
    """The request's tools as chat tools, with what was flattened or left out noted on the call."""
    out = call.tools
    for tool in call.body.get("tools") or ():
        kind = tool.get("type")
        if kind == "function":
            call.names[tool["name"]] = (None, tool["name"])
            out.append(_function(tool, tool["name"]))
        elif kind == "namespace":
            for inner in tool.get("tools") or []:
                if inner.get("type") != "function":
                    _drop(call, f"{tool['name']}.{inner.get('name') or inner['type']}")
                    continue
                flat = f"{tool['name']}{NAMESPACE_SEPARATOR}{inner['name']}"
                call.names[flat] = (tool["name"], inner["name"])
                out.append(_function(inner, flat))
        else:
            _drop(call, str(kind))


def _drop(call: Call, name: str) -> None:
    """Note a tool left out; its name goes into a header and the access line, so it is kept tame."""
    if len(call.dropped) < _MAX_DROPPED_NAMED:
        call.dropped.append(_UNTAME.sub("?", name[:64]))


def _tool_choice(choice: Any) -> Any:
    if choice is None or isinstance(choice, str):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function" and choice.get("name"):
        return {"type": "function", "function": {"name": choice["name"]}}
    return "auto"  # a built-in tool or an allowed-tools list: let the model choose among what is left


def _text_format(body: dict[str, Any], request: dict[str, Any]) -> None:
    fmt = (body.get("text") or {}).get("format") or {}
    kind = fmt.get("type")
    if kind == "json_object":
        request["response_format"] = {"type": "json_object"}
    elif kind == "json_schema":
        schema: dict[str, Any] = {"name": fmt.get("name") or "output", "schema": fmt.get("schema") or {}}
        if fmt.get("strict") is not None:
            schema["strict"] = fmt["strict"]
        if fmt.get("description"):
            schema["description"] = fmt["description"]
        request["response_format"] = {"type": "json_schema", "json_schema": schema}
