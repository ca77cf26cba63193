"""Reading canonical stream chunks for a writer of another format's events.

Each non-OpenAI inbound format (Anthropic Messages, the Responses API) turns
the same canonical deltas into its own events: reasoning, text, tool-call
pieces and the finish reason of the first choice, and usage when it comes.
The walk over a chunk lives here once; each writer says what its events are.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from llmp.daemon.providers.anthropic_response import MALFORMED, unreadable


class DeltaWriter(Protocol):
    usage: dict[str, Any] | None

    def reasoning(self, text: str, out: list[bytes]) -> None: ...
    def text(self, text: str, out: list[bytes]) -> None: ...
    def tool_call(self, call: dict[str, Any], out: list[bytes]) -> None: ...
    def finished(self, reason: str) -> None: ...
    def finish(self) -> bytes: ...
    def feed(self, chunk: dict[str, Any]) -> bytes: ...


def walk(writer: DeltaWriter, chunk: dict[str, Any], out: list[bytes]) -> None:
    """Hand the first choice's delta in `chunk` to `writer`, piece by piece (other choices are not kept)."""
    if chunk.get("usage"):
        writer.usage = chunk["usage"]
    for choice in chunk.get("choices") or []:
        if choice.get("index", 0) != 0:
            continue
        delta = choice.get("delta") or {}
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning:
            writer.reasoning(str(reasoning), out)
        if delta.get("content"):
            writer.text(str(delta["content"]), out)
        for call in delta.get("tool_calls") or []:
            writer.tool_call(call, out)
        if choice.get("finish_reason"):
            writer.finished(choice["finish_reason"])


async def written(writer: DeltaWriter, chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """The writer's events for a whole canonical stream, its closing events last."""
    async for chunk in chunks:
        try:
            data = writer.feed(chunk)
        except MALFORMED as exc:
            raise unreadable(None) from exc
        if data:
            yield data
    yield writer.finish()
