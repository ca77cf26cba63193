"""Anthropic stream events as OpenAI `chat.completion.chunk`s, in order, one pass.

Anthropic streams content blocks (text, tool_use, thinking) one after another,
each opened, grown by deltas and closed; OpenAI streams deltas of a single
message. The translation keeps the order, gives each tool call its id and name
in its first delta and its arguments as they come, streams thinking as
`reasoning_content`, and, once a thinking block is closed, hands the whole block
with its signature to the client (`thinking_blocks`) so it can be sent back.
The stream counts as finished only when `message_stop` arrives.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from llmp.daemon.errors import ErrorKind, UpstreamError
from llmp.daemon.providers.anthropic_response import (
    FINISH_REASONS,
    MALFORMED,
    canonical_usage,
    stream_error,
    unreadable,
)
from llmp.daemon.providers.http import incomplete_stream
from llmp.daemon.providers.sse import SSEEvent
from llmp.daemon.types import ChatChunk

Handler = Callable[[dict[str, Any]], list[ChatChunk]]


class ChunkTranslator:
    """The state one stream needs: blocks by index, tool-call numbering, usage so far."""

    def __init__(self, include_usage: bool) -> None:
        self.include_usage = include_usage
        self.finished = False
        self.usage: dict[str, Any] = {}
        self._base: dict[str, Any] = {"id": "", "object": "chat.completion.chunk",
                                      "created": int(time.time()), "model": ""}
        self._blocks: dict[int, dict[str, Any]] = {}
        self._tool_of_block: dict[int, int] = {}
        self._argued: set[int] = set()  # tool blocks whose arguments have been streamed
        self._thinking_count = 0
        self._handlers: dict[str, Handler] = {
            "message_start": self._message_start,
            "content_block_start": self._block_start,
            "content_block_delta": self._block_delta,
            "content_block_stop": self._block_stop,
            "message_delta": self._message_delta,
            "message_stop": self._message_stop,
        }

    def feed(self, data: dict[str, Any]) -> list[ChatChunk]:
        handler = self._handlers.get(str(data.get("type")))
        return handler(data) if handler else []  # ping, and event types added later

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> ChatChunk:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**self._base, "choices": [choice]}  # type: ignore[typeddict-item]

    def _message_start(self, data: dict[str, Any]) -> list[ChatChunk]:
        message = data.get("message") or {}
        self._base["id"] = str(message.get("id") or "")
        self._base["model"] = str(message.get("model") or "")
        self._note_usage(message.get("usage"))
        return [self._chunk({"role": "assistant", "content": ""})]

    def _block_start(self, data: dict[str, Any]) -> list[ChatChunk]:
        index = int(data.get("index") or 0)
        block = dict(data.get("content_block") or {})
        self._blocks[index] = block
        kind = block.get("type")
        if kind == "tool_use":
            number = self._tool_of_block[index] = len(self._tool_of_block)
            head = {"index": number, "id": block.get("id"), "type": "function",
                    "function": {"name": block.get("name"), "arguments": ""}}
            return [self._chunk({"tool_calls": [head]})]
        if kind == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        if kind == "thinking" and block.get("thinking"):
            return [self._chunk({"reasoning_content": block["thinking"]})]
        return []

    def _block_delta(self, data: dict[str, Any]) -> list[ChatChunk]:
        index = int(data.get("index") or 0)
        delta = data.get("delta") or {}
        block = self._blocks.setdefault(index, {})
        kind = delta.get("type")
        if kind == "text_delta":
            return [self._chunk({"content": delta.get("text") or ""})]
        if kind == "input_json_delta" and delta.get("partial_json") and index in self._tool_of_block:
            self._argued.add(index)
            return [self._arguments(index, delta["partial_json"])]
        if kind == "thinking_delta":
            text = str(delta.get("thinking") or "")
            block["thinking"] = str(block.get("thinking") or "") + text
            return [self._chunk({"reasoning_content": text})]
        if kind == "signature_delta":
            block["signature"] = delta.get("signature")
        return []

    def _arguments(self, index: int, arguments: str) -> ChatChunk:
        part = {"index": self._tool_of_block[index], "function": {"arguments": arguments}}
        return self._chunk({"tool_calls": [part]})

    def _block_stop(self, data: dict[str, Any]) -> list[ChatChunk]:
        index = int(data.get("index") or 0)
        block = self._blocks.get(index) or {}
        if index in self._tool_of_block and index not in self._argued:
            # A tool without parameters streams no JSON at all (an empty `partial_json`), and
            # "" is not JSON: send the input the block opened with, `{}` at the least, as
            # OpenAI itself would.
            return [self._arguments(index, orjson.dumps(block.get("input") or {}).decode())]
        if block.get("type") in ("thinking", "redacted_thinking"):
            # Indexed like tool calls, so stream accumulators (the openai SDK's) collect a list.
            entry = {"index": self._thinking_count, **block}
            self._thinking_count += 1
            return [self._chunk({"thinking_blocks": [entry]})]
        return []

    def _message_delta(self, data: dict[str, Any]) -> list[ChatChunk]:
        self._note_usage(data.get("usage"))
        reason = (data.get("delta") or {}).get("stop_reason")
        return [self._chunk({}, FINISH_REASONS.get(reason, "stop"))] if reason else []

    def _message_stop(self, data: dict[str, Any]) -> list[ChatChunk]:
        self.finished = True
        if not self.include_usage:
            return []
        return [{**self._base, "choices": [], "usage": canonical_usage(self.usage)}]  # type: ignore[typeddict-item]

    def _note_usage(self, usage: Any) -> None:
        """Counts in `message_delta` are running totals: they replace, never add."""
        if isinstance(usage, dict):
            self.usage.update({k: v for k, v in usage.items() if v is not None})


async def canonical_chunks(
    events: AsyncIterator[SSEEvent], provider: str, include_usage: bool
) -> AsyncIterator[ChatChunk]:
    translator = ChunkTranslator(include_usage)
    async for event in events:
        if event.event == "error":
            raise stream_error(event.data, provider)
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise UpstreamError(ErrorKind.INCOMPLETE, f"provider '{provider}' sent an event that is "
                                "not JSON", provider=provider) from None
        if isinstance(data, dict) and data.get("type") == "error":
            raise stream_error(event.data, provider)
        try:
            chunks = translator.feed(data if isinstance(data, dict) else {})
        except MALFORMED as exc:
            raise unreadable(provider) from exc
        for chunk in chunks:
            yield chunk
        if translator.finished:
            return
    raise incomplete_stream(provider)
