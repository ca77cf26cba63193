"""OpenAI's formats replayed: chat completions, legacy completions, embeddings.

A stream is `chat.completion.chunk` (or `text_completion`) events ending with
`data: [DONE]`; when the client set `stream_options.include_usage`, every
chunk carries `"usage": null` and a last chunk with no choices carries the
usage. A stored stream is replayed as it was, its usage chunk added or taken
out to match what this client asked for.
"""

from __future__ import annotations

from typing import Any

import orjson

from llmp.daemon.api.openai_wire import DONE_EVENT, sse, wants_usage
from llmp.daemon.cache.replay.events import Incomplete, json_object, parse_events
from llmp.daemon.telemetry.stream_usage import without_usage_event

_KIND = {"chat": ("chat.completion", "chat.completion.chunk"),
         "completions": ("text_completion", "text_completion")}
_HEADER = ("id", "created", "model", "system_fingerprint", "service_tier")


class OpenAIReplay:
    operations = frozenset({"chat", "completions", "embeddings"})
    body_only = frozenset({"embeddings"})
    refused: frozenset[str] = frozenset()
    key_body = None

    def key_extra(self) -> str | None:
        return None

    # -- a stream into a body ----------------------------------------------------

    def body_from_stream(self, operation: str, events: bytes,
                         usage: dict[str, Any] | None = None) -> bytes:
        chunks: list[dict[str, Any]] = []
        done = False
        for event in parse_events(events):
            if event.data == b"[DONE]":
                done = True
                continue
            chunk = json_object(event.data)
            if "error" in chunk and not chunk.get("choices"):
                raise Incomplete("the stream carries an error")
            chunks.append(chunk)
        if not done or not chunks:
            raise Incomplete("the stream has no [DONE]")
        body = _assemble(operation, chunks)
        if usage and not body.get("usage"):  # the usage chunk llmp asked for and hid from the client
            body["usage"] = usage
        self._check(operation, body)
        return orjson.dumps(body)

    # -- a body into a stream ----------------------------------------------------

    def answer_body(self, operation: str, body: bytes, request: dict[str, Any]) -> bytes:
        return body

    def stream_from_body(self, operation: str, body: bytes, request: dict[str, Any]) -> bytes:
        answer = json_object(body)
        usage_too = wants_usage(request)
        header = {name: answer[name] for name in _HEADER if name in answer}
        header["object"] = _KIND[operation][1]
        out = bytearray()

        def emit(choices: list[dict[str, Any]]) -> None:
            chunk = {**header, "choices": choices}
            if usage_too:
                chunk["usage"] = None
            out.extend(sse(chunk))

        for choice in answer.get("choices") or ():
            index = choice.get("index", 0)
            if operation == "chat":
                for delta in _chat_deltas(choice.get("message") or {}):
                    emit([{"index": index, "delta": delta, "logprobs": None, "finish_reason": None}])
                emit([{"index": index, "delta": {}, "logprobs": choice.get("logprobs"),
                       "finish_reason": choice.get("finish_reason")}])
            else:
                emit([{"index": index, "text": choice.get("text") or "", "logprobs": choice.get("logprobs"),
                       "finish_reason": choice.get("finish_reason")}])
        if usage_too and answer.get("usage") is not None:
            out.extend(sse({**header, "choices": [], "usage": answer["usage"]}))
        out.extend(DONE_EVENT)
        return bytes(out)

    def restream(self, operation: str, events: bytes, usage: dict[str, Any] | None,
                 request: dict[str, Any]) -> bytes:
        separator = b"\r\n\r\n" if b"\r\n\r\n" in events[:4096] else b"\n\n"
        events = without_usage_event(events, separator)
        if not (wants_usage(request) and usage):
            return events
        first = parse_events(events[:events.find(separator) + len(separator)])
        header = {name: value for name, value in json_object(first[0].data).items() if name in _HEADER}
        header["object"] = _KIND[operation][1]
        at = events.rfind(b"data: [DONE]")
        return events[:at] + sse({**header, "choices": [], "usage": usage}) + events[at:]

    # -- what is worth storing ---------------------------------------------------

    def check(self, operation: str, body: bytes, answer: dict[str, Any] | None = None) -> None:
        self._check(operation, json_object(body) if answer is None else answer)

    @staticmethod
    def _check(operation: str, answer: dict[str, Any]) -> None:
        if operation == "embeddings":
            if not isinstance(answer.get("data"), list) or not answer["data"]:
                raise Incomplete("no embeddings")
            return
        choices = answer.get("choices")
        if not isinstance(choices, list) or not choices:
            raise Incomplete("no choices")
        for choice in choices:
            if not isinstance(choice, dict) or not choice.get("finish_reason"):
                raise Incomplete("a choice did not finish")
            message = choice.get("message")
            if (choice["finish_reason"] == "length" and isinstance(message, dict)
                    and message.get("tool_calls")):
                raise Incomplete("a tool call was cut short")


def _chat_deltas(message: dict[str, Any]) -> list[dict[str, Any]]:
    """One message as the deltas OpenAI streams: the role, reasoning, text, then each tool call."""
    deltas: list[dict[str, Any]] = [{"role": message.get("role") or "assistant", "content": "",
                                     "refusal": None}]
    if message.get("reasoning_content"):
        deltas.append({"reasoning_content": message["reasoning_content"]})
    if message.get("content"):
        deltas.append({"content": message["content"]})
    if message.get("refusal"):
        deltas.append({"refusal": message["refusal"]})
    for index, call in enumerate(message.get("tool_calls") or ()):
        function = call.get("function") or {}
        deltas.append({"tool_calls": [{
            "index": index, "id": call.get("id"), "type": call.get("type", "function"),
            "function": {"name": function.get("name"), "arguments": ""}}]})
        if function.get("arguments"):
            deltas.append({"tool_calls": [{"index": index,
                                           "function": {"arguments": function["arguments"]}}]})
    return deltas


def _assemble(operation: str, chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Stream chunks added up into the body the same request answers without streaming."""
    body: dict[str, Any] = {}
    for chunk in chunks:  # Azure's first chunk (prompt filter results) has empty ids
        for name in _HEADER:
            if chunk.get(name) and name not in body:
                body[name] = chunk[name]
    body["object"] = _KIND.get(operation, ("chat.completion",))[0]
    choices: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        if chunk.get("usage"):
            body["usage"] = chunk["usage"]
        for part in chunk.get("choices") or ():
            index = part.get("index", 0)
            choice = choices.get(index)
            if choice is None:
                choice = choices[index] = _new_choice(operation, index)
            if part.get("finish_reason"):
                choice["finish_reason"] = part["finish_reason"]
            if part.get("logprobs"):
                _add_logprobs(choice, part["logprobs"])
            if operation == "chat":
                _add_delta(choice["message"], part.get("delta") or {})
            else:
                choice["text"] += part.get("text") or ""
    body["choices"] = [choices[i] for i in sorted(choices)]
    for choice in body["choices"]:
        calls = choice.get("message", {}).get("tool_calls")
        if calls:
            choice["message"]["tool_calls"] = [calls[i] for i in sorted(calls)]
    return body


def _new_choice(operation: str, index: int) -> dict[str, Any]:
    if operation == "chat":
        return {"index": index, "message": {"role": "assistant", "content": None, "refusal": None},
                "logprobs": None, "finish_reason": None}
    return {"index": index, "text": "", "logprobs": None, "finish_reason": None}


def _add_delta(message: dict[str, Any], delta: dict[str, Any]) -> None:
    if delta.get("role"):
        message["role"] = delta["role"]
    for field in ("content", "refusal", "reasoning_content"):
        if delta.get(field):
            message[field] = (message.get(field) or "") + delta[field]
    for call in delta.get("tool_calls") or ():
        calls = message.setdefault("tool_calls", {})
        entry = calls.setdefault(call.get("index", len(calls)), {
            "id": None, "type": "function", "function": {"name": None, "arguments": ""}})
        if call.get("id"):
            entry["id"] = call["id"]
        if call.get("type"):
            entry["type"] = call["type"]
        function = call.get("function") or {}
        if function.get("name"):
            entry["function"]["name"] = function["name"]
        entry["function"]["arguments"] += function.get("arguments") or ""


def _add_logprobs(choice: dict[str, Any], logprobs: Any) -> None:
    """Chat logprobs arrive as `content` lists per chunk; they add up to one list."""
    if not isinstance(logprobs, dict) or not isinstance(logprobs.get("content"), list):
        choice["logprobs"] = logprobs
        return
    held = choice["logprobs"] if isinstance(choice["logprobs"], dict) else {"content": []}
    held.setdefault("content", []).extend(logprobs["content"])
    choice["logprobs"] = held
