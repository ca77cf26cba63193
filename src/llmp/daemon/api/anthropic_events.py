"""Canonical answers written back as Anthropic messages and stream events.

The stream side turns OpenAI's single growing delta into Anthropic's sequence
of content blocks: each run of reasoning, text, or one tool call's arguments is
a block with its own start, deltas and stop, numbered from 0 in order (the
SDK finds a block by that number). OpenAI sends usage after the finish reason,
so `message_delta` (stop reason and usage) and `message_stop` are written when
the canonical stream has ended.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from llmp.daemon.api.stream_walk import walk, written

# OpenAI finish_reason -> Anthropic stop_reason (anthropic_response.FINISH_REASONS goes the other way).
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
                "function_call": "tool_use", "content_filter": "refusal"}


def event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def anthropic_usage(usage: dict[str, Any] | None) -> dict[str, Any]:
    """OpenAI's prompt_tokens include cached ones; Anthropic counts them apart."""
    usage = usage or {}
    details = usage.get("prompt_tokens_details") or {}
    read = int(details.get("cached_tokens") or 0)
    created = int(details.get("cache_creation_tokens") or 0)
    return {
        "input_tokens": max(0, int(usage.get("prompt_tokens") or 0) - read - created),
        "output_tokens": int(usage.get("completion_tokens") or 0),
        "cache_creation_input_tokens": created,
        "cache_read_input_tokens": read,
    }


def message_id(canonical_id: Any) -> str:
    text = str(canonical_id or "")
    return text if text.startswith("msg_") else "msg_" + text.removeprefix("chatcmpl-")


def message_from_chat(response: dict[str, Any]) -> dict[str, Any]:
    choice = (response.get("choices") or [{}])[0]
    answer = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if answer.get("thinking_blocks"):
        content.extend(answer["thinking_blocks"])
    elif answer.get("reasoning_content"):
        content.append({"type": "thinking", "thinking": answer["reasoning_content"], "signature": ""})
    text = _text(answer.get("content"))
    if text:
        content.append({"type": "text", "text": text})
    for call in answer.get("tool_calls") or []:
        function = call.get("function") or {}
        content.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"),
                        "input": tool_input(function.get("arguments"))})
    return {
        "id": message_id(response.get("id")),
        "type": "message",
        "role": "assistant",
        "model": response.get("model") or "",
        "content": content,
        "stop_reason": STOP_REASONS.get(choice.get("finish_reason") or "stop", "end_turn"),
        "stop_sequence": None,
        "usage": anthropic_usage(response.get("usage")),
    }


def tool_input(arguments: Any) -> dict[str, Any]:
    """Anthropic's input is an object; arguments that are not one are kept under `arguments`."""
    if isinstance(arguments, dict):
        return arguments
    try:
        value = orjson.loads(arguments) if arguments else {}
    except (orjson.JSONDecodeError, TypeError):
        value = None
    return value if isinstance(value, dict) else {"arguments": arguments}


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(p.get("text") or "") for p in content if isinstance(p, dict))
    return str(content or "")


class EventWriter:
    """The Anthropic events for one canonical stream, chunk by chunk."""

    def __init__(self) -> None:
        self.started = False
        self.blocks = 0  # how many content blocks have been opened
        self.open_kind: str | None = None
        self.tool_blocks: dict[int, int] = {}  # OpenAI tool index -> block index
        self.stop_reason = "end_turn"
        self.usage: dict[str, Any] | None = None

    def feed(self, chunk: dict[str, Any]) -> bytes:
        out: list[bytes] = []
        self._start(chunk, out)
        walk(self, chunk, out)
        return b"".join(out)

    def reasoning(self, text: str, out: list[bytes]) -> None:
        self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""}, out)
        out.append(self._delta({"type": "thinking_delta", "thinking": text}))

    def text(self, text: str, out: list[bytes]) -> None:
        self._open("text", {"type": "text", "text": ""}, out)
        out.append(self._delta({"type": "text_delta", "text": text}))

    def finished(self, reason: str) -> None:
        self.stop_reason = STOP_REASONS.get(reason, "end_turn")

    def finish(self) -> bytes:
        out: list[bytes] = []
        self._start({}, out)
        self._close(out)
        usage = anthropic_usage(self.usage)
        out.append(event("message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
            "usage": usage,
        }))
        out.append(event("message_stop", {"type": "message_stop"}))
        return b"".join(out)

    def _start(self, chunk: dict[str, Any], out: list[bytes]) -> None:
        if self.started:
            return
        self.started = True
        out.append(event("message_start", {"type": "message_start", "message": {
            "id": message_id(chunk.get("id")), "type": "message", "role": "assistant",
            "model": chunk.get("model") or "", "content": [], "stop_reason": None,
            "stop_sequence": None, "usage": anthropic_usage(None)}}))

    def tool_call(self, call: dict[str, Any], out: list[bytes]) -> None:
        number = int(call.get("index") or 0)
        function = call.get("function") or {}
        if number not in self.tool_blocks:
            block = {"type": "tool_use", "id": call.get("id") or f"toolu_{number}",
                     "name": function.get("name") or "", "input": {}}
            self._open(f"tool:{number}", block, out)
            self.tool_blocks[number] = self.blocks - 1
        if function.get("arguments"):
            out.append(event("content_block_delta", {
                "type": "content_block_delta", "index": self.tool_blocks[number],
                "delta": {"type": "input_json_delta", "partial_json": function["arguments"]}}))

    def _open(self, kind: str, block: dict[str, Any], out: list[bytes]) -> None:
        if self.open_kind == kind:
            return
        self._close(out)
        out.append(event("content_block_start", {
            "type": "content_block_start", "index": self.blocks, "content_block": block}))
        self.open_kind = kind
        self.blocks += 1

    def _close(self, out: list[bytes]) -> None:
        if self.open_kind is not None:
            out.append(event("content_block_stop",
                             {"type": "content_block_stop", "index": self.blocks - 1}))
            self.open_kind = None

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return event("content_block_delta",
                     {"type": "content_block_delta", "index": self.blocks - 1, "delta": delta})


def anthropic_stream(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    return written(EventWriter(), chunks)
