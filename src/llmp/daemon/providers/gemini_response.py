"""Gemini's answers as OpenAI chat completions, whole or as a stream of chunks.

Gemini gives function calls no ids, so each call gets a fresh `call_...` id
when it first appears; the id is what the client sends back with the tool's
result, and the request side maps it back to the function's name. A call's
thought signature travels on the tool call as `extra_content.google.
thought_signature` (the field Google's own OpenAI endpoint uses) and is also
remembered by id, for clients that drop fields they do not know; a signature on
text travels the same way on the message (or the stream delta).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from llmp.daemon.types import ChatChunk, ChatResponse

_FILTERED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}

Remember = Callable[[str, str], None]


def finish_reason(reason: str | None, called: bool) -> str | None:
    if not reason or reason == "FINISH_REASON_UNSPECIFIED":
        return None
    if reason == "MAX_TOKENS":
        return "length"
    if reason in _FILTERED:
        return "content_filter"
    return "tool_calls" if called else "stop"


def usage(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    """OpenAI counts reasoning inside completion tokens; Gemini reports thoughts apart."""
    if not metadata:
        return None
    prompt = int(metadata.get("promptTokenCount") or 0) + int(
        metadata.get("toolUsePromptTokenCount") or 0
    )
    thoughts = int(metadata.get("thoughtsTokenCount") or 0)
    completion = int(metadata.get("candidatesTokenCount") or 0) + thoughts
    result: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(metadata.get("totalTokenCount") or prompt + completion),
    }
    if metadata.get("cachedContentTokenCount"):
        result["prompt_tokens_details"] = {"cached_tokens": int(metadata["cachedContentTokenCount"])}
    if thoughts:
        result["completion_tokens_details"] = {"reasoning_tokens": thoughts}
    return result


def new_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def tool_call(part: dict[str, Any], remember: Remember) -> dict[str, Any]:
    call = part["functionCall"]
    call_id = new_call_id()
    result: dict[str, Any] = {
        "id": call_id,
        "type": "function",
        "function": {
            "name": str(call.get("name") or ""),
            "arguments": orjson.dumps(call.get("args") or {}).decode(),
        },
    }
    signature = part.get("thoughtSignature")
    if signature:
        result["extra_content"] = signed(signature)
        remember(call_id, signature)
    return result


class Parts:
    """One candidate's parts sorted out: answer text, thought text, function calls, and the
    signature Gemini 3 puts on a text or thought part (the client should send it back)."""

    def __init__(self, parts: list[dict[str, Any]]) -> None:
        text, thoughts = [], []
        self.calls: list[dict[str, Any]] = []
        self.signature: str | None = None
        for part in parts:
            if "functionCall" in part:
                self.calls.append(part)
                continue
            if isinstance(part.get("text"), str):
                (thoughts if part.get("thought") else text).append(part["text"])
            self.signature = part.get("thoughtSignature") or self.signature
        self.text = "".join(text)
        self.thoughts = "".join(thoughts)


def signed(signature: str) -> dict[str, Any]:
    return {"google": {"thought_signature": signature}}


def _response_id(data: dict[str, Any]) -> str:
    return "chatcmpl-" + str(data.get("responseId") or uuid.uuid4().hex[:24])


def chat_response(data: dict[str, Any], model: str, remember: Remember) -> ChatResponse:
    choices = []
    for position, candidate in enumerate(data.get("candidates") or []):
        parts = Parts((candidate.get("content") or {}).get("parts") or [])
        message: dict[str, Any] = {
            "role": "assistant", "content": parts.text or (None if parts.calls else "")}
        if parts.calls:
            message["tool_calls"] = [tool_call(part, remember) for part in parts.calls]
        if parts.thoughts:
            message["reasoning_content"] = parts.thoughts
        if parts.signature:
            message["extra_content"] = signed(parts.signature)
        choices.append({
            "index": int(candidate.get("index", position)),
            "message": message,
            "finish_reason": finish_reason(candidate.get("finishReason"), bool(parts.calls))
            or "stop",
            "logprobs": None,
        })
    if not choices and (data.get("promptFeedback") or {}).get("blockReason"):
        choices.append({
            "index": 0, "message": {"role": "assistant", "content": None},
            "finish_reason": "content_filter", "logprobs": None,
        })
    answer: dict[str, Any] = {
        "id": _response_id(data),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(data.get("modelVersion") or model),
        "choices": choices,
    }
    counted = usage(data.get("usageMetadata"))
    if counted:
        answer["usage"] = counted
    return answer  # type: ignore[return-value]


class StreamTranslator:
    """Turns each streamed GenerateContentResponse into chunks, keeping per-candidate state.

    The stream is finished once every candidate seen has a finish reason (or
    the prompt was blocked); anything less is an incomplete answer.
    """

    def __init__(self, model: str, remember: Remember) -> None:
        self.model = model
        self.remember = remember
        self.id = ""
        self.created = int(time.time())
        self.started: set[int] = set()
        self.finished: set[int] = set()
        self.calls: dict[int, int] = {}  # candidate index -> tool calls sent so far
        self.blocked = False
        self.usage: dict[str, Any] | None = None

    @property
    def complete(self) -> bool:
        return self.blocked or (bool(self.started) and self.started <= self.finished)

    def _chunk(self, index: int, delta: dict[str, Any], finish: str | None = None) -> ChatChunk:
        choice = {"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model, "choices": [choice]}  # type: ignore[typeddict-item]

    def feed(self, data: dict[str, Any]) -> list[ChatChunk]:
        if not self.id:
            self.id = _response_id(data)
            self.model = str(data.get("modelVersion") or self.model)
        self.usage = usage(data.get("usageMetadata")) or self.usage
        chunks: list[ChatChunk] = []
        for position, candidate in enumerate(data.get("candidates") or []):
            chunks.extend(self._candidate(int(candidate.get("index", position)), candidate))
        if not data.get("candidates") and (data.get("promptFeedback") or {}).get("blockReason"):
            self.blocked = True
            chunks.append(self._chunk(0, {"role": "assistant", "content": None}, "content_filter"))
        return chunks

    def _candidate(self, index: int, candidate: dict[str, Any]) -> list[ChatChunk]:
        chunks: list[ChatChunk] = []
        delta: dict[str, Any] = {}
        if index not in self.started:
            self.started.add(index)
            delta["role"] = "assistant"
        parts = Parts((candidate.get("content") or {}).get("parts") or [])
        calls = parts.calls
        if parts.thoughts:
            delta["reasoning_content"] = parts.thoughts
        if parts.text:
            delta["content"] = parts.text
        if parts.signature:
            delta["extra_content"] = signed(parts.signature)
        if calls:
            sent = self.calls.get(index, 0)
            delta["tool_calls"] = [
                {"index": sent + number, **tool_call(part, self.remember)}
                for number, part in enumerate(calls)
            ]
            self.calls[index] = sent + len(calls)
        if delta:
            chunks.append(self._chunk(index, delta))
        reason = finish_reason(candidate.get("finishReason"), self.calls.get(index, 0) > 0)
        if reason:
            self.finished.add(index)
            chunks.append(self._chunk(index, {}, reason))
        return chunks

    def usage_chunk(self) -> ChatChunk:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model, "choices": [], "usage": self.usage}  # type: ignore[typeddict-item]
