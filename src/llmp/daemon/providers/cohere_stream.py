"""Cohere v2 chat stream events -> `chat.completion.chunk`s, in order.

Cohere names each event (`message-start`, `content-delta`, `tool-call-start`,
..., `message-end`); OpenAI streams deltas of one message. The translation
keeps the order and the granularity: each text, plan or argument fragment
becomes one chunk, a tool call's id and name arrive in its first delta and its
arguments as further deltas, as OpenAI clients expect. Only `message-end`
finishes the stream; framing events (`content-end`, citations, `debug`) have
nothing to say to an OpenAI client and produce no chunk, and `tool-call-end`
does only for a call that got no arguments at all, which then gets `{}` so
that its arguments still parse as JSON.
"""

from __future__ import annotations

import time
from typing import Any

from llmp.daemon.errors import ErrorKind, UpstreamError
from llmp.daemon.providers.cohere_wire import finish_reason, usage
from llmp.daemon.types import ChatChunk


class StreamTranslator:
    def __init__(self, model: str, provider: str, include_usage: bool) -> None:
        self.model = model
        self.provider = provider
        self.include_usage = include_usage
        self.id = ""
        self.created = int(time.time())
        self.finished = False
        self._tool_index: dict[Any, int] = {}
        self._argued: set[int] = set()  # tool calls whose arguments have been sent

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> ChatChunk:
        return {
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    def translate(self, event: dict[str, Any]) -> list[ChatChunk]:
        kind = event.get("type")
        if kind is None and "message" in event:
            # An error object in place of an event: the upstream gave up mid-stream.
            raise UpstreamError(ErrorKind.SERVER_ERROR, str(event["message"]),
                                provider=self.provider)
        message = (event.get("delta") or {}).get("message") or {}
        if kind == "message-start":
            self.id = str(event.get("id") or "")
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind in ("content-start", "content-delta"):
            return self._content(message.get("content") or {})
        if kind == "tool-plan-delta":
            plan = message.get("tool_plan")
            return [self._chunk({"content": plan})] if plan else []
        if kind == "tool-call-start":
            return [self._tool_start(event.get("index"), _one(message.get("tool_calls")))]
        if kind == "tool-call-delta":
            return self._tool_arguments(event.get("index"), _one(message.get("tool_calls")))
        if kind == "tool-call-end":
            return self._tool_end(event.get("index"))
        if kind == "message-end":
            return self._end(event.get("delta") or {})
        return []

    def _content(self, content: dict[str, Any]) -> list[ChatChunk]:
        if content.get("text"):
            return [self._chunk({"content": content["text"]})]
        if content.get("thinking"):
            return [self._chunk({"reasoning_content": content["thinking"]})]
        return []

    def _tool_start(self, cohere_index: Any, call: dict[str, Any]) -> ChatChunk:
        index = self._tool_index.setdefault(cohere_index, len(self._tool_index))
        function = call.get("function") or {}
        arguments = function.get("arguments") or ""
        if arguments:
            self._argued.add(index)
        head = {"index": index, "id": call.get("id"), "type": "function",
                "function": {"name": function.get("name"), "arguments": arguments}}
        return self._chunk({"tool_calls": [head]})

    def _tool_arguments(self, cohere_index: Any, call: dict[str, Any]) -> list[ChatChunk]:
        arguments = (call.get("function") or {}).get("arguments")
        if not arguments:
            return []
        index = self._tool_index.get(cohere_index, max(self._tool_index.values(), default=0))
        self._argued.add(index)
        return [self._chunk({"tool_calls": [{"index": index, "function": {"arguments": arguments}}]})]

    def _tool_end(self, cohere_index: Any) -> list[ChatChunk]:
        """A call whose arguments never came (a tool without parameters) still gets JSON: `{}`."""
        index = self._tool_index.get(cohere_index)
        if index is None or index in self._argued:
            return []
        self._argued.add(index)
        return [self._chunk({"tool_calls": [{"index": index, "function": {"arguments": "{}"}}]})]

    def _end(self, delta: dict[str, Any]) -> list[ChatChunk]:
        self.finished = True
        chunks = [self._chunk({}, finish_reason(delta.get("finish_reason"), self.provider))]
        counted = usage(delta.get("usage"))
        if self.include_usage and counted:
            chunks.append({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                           "model": self.model, "choices": [], "usage": counted})  # type: ignore[typeddict-item]
        return chunks


def _one(calls: Any) -> dict[str, Any]:
    """Stream events carry one tool call as an object (older answers wrapped it in a list)."""
    if isinstance(calls, list):
        return calls[0] if calls and isinstance(calls[0], dict) else {}
    return calls if isinstance(calls, dict) else {}
