"""Canonical stream chunks as Responses API stream events.

One output item is open at a time; a delta of another kind (text after
reasoning, a new tool call) closes it with its `.done` events before the next
one opens. Items finished so far live on the `Call`, so a failure midway can
still report what was answered in its `response.failed` event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from llmp.daemon.api.responses_events import (
    _STATUS_OF_FINISH,
    event,
    function_call_item,
    message_item,
    reasoning_item,
    response_object,
)
from llmp.daemon.api.responses_inbound import Call
from llmp.daemon.api.stream_walk import walk, written


class ResponseEvents:
    """The events for one canonical stream, chunk by chunk."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.suffix = call.id.removeprefix("resp_")
        self.model = ""
        self.started = False
        self.kind: str | None = None  # "reasoning", "text" or "tool:<index>"
        self.item: dict[str, Any] = {}
        self.buffer = ""
        self.status = "completed"
        self.usage: dict[str, Any] | None = None

    def emit(self, name: str, data: dict[str, Any]) -> bytes:
        self.call.sequence += 1
        return event(name, {"type": name, "sequence_number": self.call.sequence, **data})

    def snapshot(self, status: str, usage: dict[str, Any] | None = None,
                 error: dict[str, Any] | None = None) -> dict[str, Any]:
        return response_object(self.call, self.model, list(self.call.output), status, usage, error)

    def feed(self, chunk: dict[str, Any]) -> bytes:
        out: list[bytes] = []
        self.model = self.model or str(chunk.get("model") or "")
        self._start(out)
        walk(self, chunk, out)
        return b"".join(out)

    def finished(self, reason: str) -> None:
        self.status = _STATUS_OF_FINISH.get(reason, "completed")

    def finish(self) -> bytes:
        out: list[bytes] = []
        self._start(out)
        self._close(out)
        name = "response.completed" if self.status == "completed" else "response.incomplete"
        self.call.response = self.snapshot(self.status, self.usage or {})
        out.append(self.emit(name, {"response": self.call.response}))
        return b"".join(out)

    def failed(self, code: str, message: str) -> bytes:
        """The terminal event of a stream whose upstream failed midway."""
        out: list[bytes] = []
        self._start(out)
        error = {"code": code, "message": message}
        out.append(self.emit("response.failed", {"response": self.snapshot("failed", self.usage, error)}))
        return b"".join(out)

    def _start(self, out: list[bytes]) -> None:
        if self.started:
            return
        self.started = True
        response = self.snapshot("in_progress")
        out.append(self.emit("response.created", {"response": response}))
        out.append(self.emit("response.in_progress", {"response": response}))

    @property
    def _index(self) -> int:
        return len(self.call.output)

    def _open(self, kind: str, item: dict[str, Any], out: list[bytes]) -> None:
        self._close(out)
        self.kind, self.item, self.buffer = kind, item, ""
        out.append(self.emit("response.output_item.added", {"output_index": self._index, "item": item}))

    def reasoning(self, delta: str, out: list[bytes]) -> None:
        index = self._index
        where = {"item_id": f"rs_{self.suffix}_{index}", "output_index": index, "summary_index": 0}
        if self.kind != "reasoning":
            self._open("reasoning", reasoning_item(where["item_id"], ""), out)
            out.append(self.emit("response.reasoning_summary_part.added",
                                 {**where, "part": {"type": "summary_text", "text": ""}}))
        self.buffer += delta
        out.append(self.emit("response.reasoning_summary_text.delta", {**where, "delta": delta}))

    def text(self, delta: str, out: list[bytes]) -> None:
        item_id = f"msg_{self.suffix}_{self._index}"
        where = {"item_id": item_id, "output_index": self._index, "content_index": 0}
        if self.kind != "text":
            self._open("text", message_item(item_id, "", "in_progress"), out)
            out.append(self.emit("response.content_part.added", {
                **where, "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}}))
        self.buffer += delta
        out.append(self.emit("response.output_text.delta", {**where, "delta": delta, "logprobs": []}))

    def tool_call(self, tool_call: dict[str, Any], out: list[bytes]) -> None:
        kind = f"tool:{int(tool_call.get('index') or 0)}"
        function = tool_call.get("function") or {}
        if self.kind != kind:
            call_id = str(tool_call.get("id") or f"call_{self.suffix}_{self._index}")
            item = function_call_item(self.call, f"fc_{self.suffix}_{self._index}", call_id,
                                      str(function.get("name") or ""), "", "in_progress")
            self._open(kind, item, out)
        arguments = function.get("arguments")
        if arguments:
            self.buffer += arguments
            out.append(self.emit("response.function_call_arguments.delta", {
                "item_id": self.item["id"], "output_index": self._index, "delta": arguments}))

    def _close(self, out: list[bytes]) -> None:
        if self.kind is None:
            return
        index, item, text = self._index, self.item, self.buffer
        if self.kind == "text":
            where = {"item_id": item["id"], "output_index": index, "content_index": 0}
            done = message_item(item["id"], text, "completed")
            part = done["content"][0]
            out.append(self.emit("response.output_text.done", {**where, "text": text, "logprobs": []}))
            out.append(self.emit("response.content_part.done", {**where, "part": part}))
        elif self.kind == "reasoning":
            where = {"item_id": item["id"], "output_index": index, "summary_index": 0}
            done = reasoning_item(item["id"], text)
            out.append(self.emit("response.reasoning_summary_text.done", {**where, "text": text}))
            out.append(self.emit("response.reasoning_summary_part.done",
                                 {**where, "part": {"type": "summary_text", "text": text}}))
        else:
            done = {**item, "arguments": text, "status": "completed"}
            out.append(self.emit("response.function_call_arguments.done", {
                "item_id": item["id"], "output_index": index, "arguments": text, "name": item["name"]}))
        out.append(self.emit("response.output_item.done", {"output_index": index, "item": done}))
        self.call.output.append(done)
        self.kind = None


def response_stream(call: Call, chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    call.sequence, call.output = 0, []  # a failed attempt before the first byte leaves nothing behind
    call.writer = ResponseEvents(call)
    return written(call.writer, chunks)
