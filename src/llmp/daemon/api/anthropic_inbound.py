"""An Anthropic Messages request as a canonical (OpenAI-shaped) one.

Used only when the chosen provider does not speak Anthropic itself (an
Anthropic provider gets the client's body untouched). Tool results become
`tool` messages ahead of the rest of their user turn, `tool_use` blocks become
tool calls with JSON-string arguments. `system` and `developer` entries inside
`messages` (Claude Code sends them) stay where they are, as messages of the
same role; each provider then does what its format allows (Gemini folds them
into its system instruction). Thinking blocks are left out of replayed
assistant turns: only the model that wrote them can check their signatures.
Documents become a text part (plain-text sources) or a `file` part (PDF as
base64). What has no OpenAI equivalent is refused with a 400 when dropping it
would change the answer (a document by URL, server tools), and otherwise
dropped with a debug log (`cache_control`, `thinking`, `context_management`).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from llmp.daemon.errors import ClientError

log = logging.getLogger("llmp.daemon")

_HANDLED = frozenset({
    "model", "messages", "system", "max_tokens", "temperature", "top_p", "stop_sequences",
    "stream", "tools", "tool_choice", "metadata", "output_config",
})
_PASSED = ("mock",)  # llmp's own per-request knobs travel to the provider as they are


def to_canonical(body: dict[str, Any]) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        messages.append({"role": "system", "content": _system(system)})
    for index, message in enumerate(body["messages"]):
        messages.extend(_messages(message, f"messages[{index}]"))
    request: dict[str, Any] = {"model": body["model"], "messages": messages}
    if body.get("max_tokens") is not None:
        request["max_tokens"] = body["max_tokens"]
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            request[name] = body[name]
    if body.get("stop_sequences"):
        request["stop"] = list(body["stop_sequences"])
    if body.get("stream"):
        # Usage arrives last in OpenAI streams; Anthropic's message_delta must carry it.
        request["stream"] = True
        request["stream_options"] = {"include_usage": True}
    _tools(body, request)
    user_id = (body.get("metadata") or {}).get("user_id")
    if user_id:
        request["user"] = user_id
    output_format = (body.get("output_config") or {}).get("format")
    if isinstance(output_format, dict) and output_format.get("type") == "json_schema":
        request["response_format"] = {"type": "json_schema", "json_schema": {
            "name": "output", "schema": output_format.get("schema") or {}, "strict": True}}
    for name in _PASSED:
        if name in body:
            request[name] = body[name]
    dropped = sorted(set(body) - _HANDLED - set(_PASSED))
    if dropped:
        log.debug("Anthropic parameters with no OpenAI equivalent, not sent: %s", ", ".join(dropped))
    return request


def _system(system: Any) -> Any:
    if isinstance(system, str):
        return system
    return [{"type": "text", "text": block.get("text", "")} for block in system]


def _messages(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    role, content = message["role"], message.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if role in ("system", "developer"):
        return [{"role": role, "content": _system(content)}]
    if role == "assistant":
        return [_assistant(content, where)]
    results: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for index, block in enumerate(content or []):
        at = f"{where}.content[{index}]"
        if block.get("type") == "tool_result":
            results.append(_tool_result(block, at))
        else:
            parts.append(_part(block, at))
    if parts:
        single_text = len(parts) == 1 and parts[0]["type"] == "text"
        results.append({"role": "user", "content": parts[0]["text"] if single_text else parts})
    return results


def _part(block: dict[str, Any], where: str) -> dict[str, Any]:
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": block.get("text", "")}
    if kind == "image":
        source = block.get("source") if isinstance(block.get("source"), dict) else {}
        if source.get("type") == "url":
            return {"type": "image_url", "image_url": {"url": source.get("url")}}
        if source.get("type") == "base64":
            url = f"data:{source.get('media_type')};base64,{source.get('data')}"
            return {"type": "image_url", "image_url": {"url": url}}
    if kind == "document":
        document = _document(block, where)
        if document is not None:
            return document
    raise ClientError(
        f"{where}: a {kind!r} block can only be sent to an Anthropic provider; "
        "this model is served by another kind.", param=where,
    )


def _document(block: dict[str, Any], where: str) -> dict[str, Any] | None:
    """A document as OpenAI's text or `file` part; None for a source with no equivalent."""
    source = block.get("source") if isinstance(block.get("source"), dict) else {}
    kind = source.get("type")
    title = str(block.get("title") or "")
    if kind == "text":
        text = str(source.get("data") or "")
        return {"type": "text", "text": f"{title}\n\n{text}" if title else text}
    if kind == "content":
        inner = source.get("content")
        text = inner if isinstance(inner, str) else "\n".join(
            str(part.get("text") or "") for part in inner or []
            if isinstance(part, dict) and part.get("type") == "text")
        return {"type": "text", "text": f"{title}\n\n{text}" if title else text}
    if kind == "base64":
        media_type = str(source.get("media_type") or "application/pdf")
        data_url = f"data:{media_type};base64,{source.get('data') or ''}"
        return {"type": "file", "file": {"filename": title or "document.pdf", "file_data": data_url}}
    log.debug("%s: a document of source type %r has no OpenAI equivalent", where, kind)
    return None


def _assistant(content: list[dict[str, Any]], where: str) -> dict[str, Any]:
    texts, calls = [], []
    for block in content:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append({"id": block.get("id"), "type": "function",
                          "function": {"name": block.get("name"), "arguments": arguments}})
        elif kind in ("thinking", "redacted_thinking"):
            log.debug("%s: thinking left out; only Anthropic can read it back", where)
        else:
            raise ClientError(f"{where}: a {kind!r} block can only be sent to an Anthropic provider.",
                              param=where)
    message: dict[str, Any] = {"role": "assistant",
                               "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool_result(block: dict[str, Any], where: str) -> dict[str, Any]:
    content = block.get("content")
    if isinstance(content, list):
        kept = [str(part.get("text") or "") for part in content
                if isinstance(part, dict) and part.get("type") == "text"]
        if len(kept) < len(content):
            log.debug("%s: non-text tool result content left out (OpenAI tool results are text)", where)
        content = "\n".join(kept)
    if block.get("is_error"):
        log.debug("%s: is_error has no OpenAI equivalent", where)
    return {"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": content or ""}


def _tools(body: dict[str, Any], request: dict[str, Any]) -> None:
    tools = []
    for index, tool in enumerate(body.get("tools") or []):
        if tool.get("type") not in (None, "custom"):
            raise ClientError(
                f"tools[{index}]: the server tool {tool.get('type')!r} only runs on an Anthropic provider.",
                param=f"tools.{index}.type",
            )
        function: dict[str, Any] = {"name": tool["name"], "parameters": tool.get("input_schema") or {}}
        if tool.get("description"):
            function["description"] = tool["description"]
        if tool.get("strict") is not None:
            function["strict"] = tool["strict"]
        tools.append({"type": "function", "function": function})
    if tools:
        request["tools"] = tools
    choice = body.get("tool_choice")
    if not isinstance(choice, dict) or not tools:
        return
    kind = choice.get("type")
    if kind == "tool":
        request["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    else:
        request["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[kind]
    if choice.get("disable_parallel_tool_use"):
        request["parallel_tool_calls"] = False
