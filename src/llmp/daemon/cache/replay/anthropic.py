"""Anthropic Messages replayed.

A stream is `message_start`, then per content block `content_block_start`,
its deltas and `content_block_stop`, then `message_delta` (stop reason and
usage) and `message_stop`. A body becomes exactly that sequence (a `ping`
after the first block's start, where Anthropic sends it); a stream adds up to the message
the same request answers without streaming. `anthropic-beta` changes what
Anthropic answers, so it is part of the key.
"""

from __future__ import annotations

from typing import Any

import orjson

from llmp.daemon.api.anthropic_events import event
from llmp.daemon.cache.replay.events import Incomplete, json_object, parse_events
from llmp.daemon.providers.anthropic_headers import CLIENT_HEADERS

_STREAMED_EMPTY = {"text": {"text": ""}, "thinking": {"thinking": "", "signature": ""}}
_INPUT_BLOCKS = {"tool_use", "server_tool_use", "mcp_tool_use"}


class AnthropicReplay:
    operations = frozenset({"chat"})
    body_only: frozenset[str] = frozenset()
    refused: frozenset[str] = frozenset()
    key_body = None

    def key_extra(self) -> str | None:
        """The client's `anthropic-beta` header: a beta may change the answer."""
        headers = CLIENT_HEADERS.get()
        return headers.get("anthropic-beta") if headers else None

    def body_from_stream(self, operation: str, events: bytes,
                         usage: dict[str, Any] | None = None) -> bytes:
        message: dict[str, Any] | None = None
        partial: dict[int, str] = {}
        stopped = False
        for item in parse_events(events):
            data = json_object(item.data)
            kind = data.get("type")
            if kind == "message_start":
                message = dict(data.get("message") or {})
                message["content"] = []
            elif message is None or kind in ("ping", None):
                continue
            elif kind == "content_block_start":
                message["content"].append(dict(data.get("content_block") or {}))
            elif kind == "content_block_delta":
                _apply_delta(message["content"], partial, data)
            elif kind == "content_block_stop":
                index = data.get("index", len(message["content"]) - 1)
                if index in partial:
                    block = message["content"][index]
                    block["input"] = orjson.loads(partial.pop(index) or "{}")
            elif kind == "message_delta":
                message.update(data.get("delta") or {})
                message["usage"] = {**(message.get("usage") or {}), **(data.get("usage") or {})}
            elif kind == "message_stop":
                stopped = True
            elif kind == "error":
                raise Incomplete("the stream carries an error")
        if message is None or not stopped:
            raise Incomplete("the stream has no message_stop")
        self._check(message)
        return orjson.dumps(message)

    def answer_body(self, operation: str, body: bytes, request: dict[str, Any]) -> bytes:
        return body

    def stream_from_body(self, operation: str, body: bytes, request: dict[str, Any]) -> bytes:
        message = json_object(body)
        usage = dict(message.get("usage") or {})
        start = {**message, "content": [], "stop_reason": None, "stop_sequence": None,
                 "usage": {**usage, "output_tokens": min(1, int(usage.get("output_tokens") or 0))}}
        out = bytearray(event("message_start", {"type": "message_start", "message": start}))
        ping = event("ping", {"type": "ping"})
        for index, block in enumerate(message.get("content") or ()):
            block_events = _block_events(index, block)
            if index == 0:
                block_events.insert(1, ping)
            out.extend(b"".join(block_events))
        if not message.get("content"):
            out.extend(ping)
        final_usage = {name: value for name, value in usage.items()
                       if name in ("input_tokens", "output_tokens", "cache_creation_input_tokens",
                                   "cache_read_input_tokens", "server_tool_use")}
        out.extend(event("message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": message.get("stop_reason"),
                      "stop_sequence": message.get("stop_sequence")},
            "usage": final_usage}))
        out.extend(event("message_stop", {"type": "message_stop"}))
        return bytes(out)

    def restream(self, operation: str, events: bytes, usage: dict[str, Any] | None,
                 request: dict[str, Any]) -> bytes:
        return events

    def check(self, operation: str, body: bytes, answer: dict[str, Any] | None = None) -> None:
        self._check(json_object(body) if answer is None else answer)

    @staticmethod
    def _check(message: dict[str, Any]) -> None:
        if message.get("type") != "message" or not message.get("stop_reason"):
            raise Incomplete("the message did not finish")
        blocks = message.get("content") or ()
        if message["stop_reason"] == "max_tokens" and any(
                isinstance(b, dict) and b.get("type") in _INPUT_BLOCKS for b in blocks):
            raise Incomplete("a tool call was cut short")


def _apply_delta(blocks: list[dict[str, Any]], partial: dict[int, str], data: dict[str, Any]) -> None:
    index = data.get("index", len(blocks) - 1)
    if not 0 <= index < len(blocks):
        raise Incomplete("a delta for a block that never started")
    block, delta = blocks[index], data.get("delta") or {}
    kind = delta.get("type")
    if kind == "text_delta":
        block["text"] = block.get("text", "") + (delta.get("text") or "")
    elif kind == "input_json_delta":
        partial[index] = partial.get(index, "") + (delta.get("partial_json") or "")
    elif kind == "thinking_delta":
        block["thinking"] = block.get("thinking", "") + (delta.get("thinking") or "")
    elif kind == "signature_delta":
        block["signature"] = delta.get("signature") or ""
    elif kind == "citations_delta":
        block.setdefault("citations", []).append(delta.get("citation"))


def _block_events(index: int, block: dict[str, Any]) -> list[bytes]:
    """One content block as its start, deltas and stop."""
    kind = block.get("type")
    deltas: list[dict[str, Any]] = []
    if kind in _STREAMED_EMPTY:
        start = {**block, **_STREAMED_EMPTY[kind]}
        start.pop("citations", None)
        if kind == "text":
            deltas.append({"type": "text_delta", "text": block.get("text") or ""})
            deltas.extend({"type": "citations_delta", "citation": c} for c in block.get("citations") or ())
        else:
            deltas.append({"type": "thinking_delta", "thinking": block.get("thinking") or ""})
            deltas.append({"type": "signature_delta", "signature": block.get("signature") or ""})
    elif kind in _INPUT_BLOCKS:
        start = {**block, "input": {}}
        deltas.append({"type": "input_json_delta",
                       "partial_json": orjson.dumps(block.get("input") or {}).decode()})
    else:  # redacted thinking, tool results: whole in their start event, as Anthropic sends them
        start = block
    return [
        event("content_block_start", {"type": "content_block_start", "index": index,
                                      "content_block": start}),
        *(event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
          for d in deltas),
        event("content_block_stop", {"type": "content_block_stop", "index": index}),
    ]
