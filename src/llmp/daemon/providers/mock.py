"""The `mock` provider: a real provider type for working offline and testing clients.

It echoes the last user message (or answers with a configured reply), streams
it word by word, and can be told, in config or per request with an extra
`mock` object in the body, to be slow, to fail with a status, or to call tools.
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
from pydantic import ValidationError

from llmp.core.config_schema import MockConfig
from llmp.daemon.errors import ClientError, UpstreamError
from llmp.daemon.providers.base import Provider
from llmp.daemon.providers.http import kind_for_status
from llmp.daemon.types import ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest


class MockProvider(Provider):
    type_name = "mock"
    operations = frozenset({"chat", "completions", "embeddings"})

    def _settings(self, request: dict[str, Any]) -> MockConfig:
        base = (self.config.mock or MockConfig()).model_dump()
        override = request.get("mock")
        if override is None:
            return MockConfig.model_validate(base)
        if not isinstance(override, dict):
            raise ClientError("'mock' must be an object of mock settings", param="mock")
        try:
            return MockConfig.model_validate({**base, **override})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ClientError(f"mock.{where}: {first['msg']}", param=f"mock.{where}") from None

    async def _begin(self, settings: MockConfig) -> None:
        if settings.delay:
            await asyncio.sleep(settings.delay)
        if settings.fail_status:
            raise UpstreamError(
                kind_for_status(settings.fail_status, settings.fail_message),
                settings.fail_message,
                status=settings.fail_status,
                provider=self.name,
            )

    def _reply(self, request: ChatRequest, settings: MockConfig) -> str:
        if settings.reply is not None:
            return settings.reply
        for message in reversed(request.get("messages") or []):
            if message.get("role") == "user":
                return _text_of(message.get("content"))
        return ""

    async def chat(self, request: ChatRequest, model: str) -> ChatResponse:
        settings = self._settings(request)  # type: ignore[arg-type]
        await self._begin(settings)
        text = self._reply(request, settings)
        tool_calls = _tool_calls(settings)
        message: dict[str, Any] = {"role": "assistant", "content": None if tool_calls else text}
        if tool_calls:
            message["tool_calls"] = tool_calls
        finish = "tool_calls" if tool_calls else "stop"
        choices = [
            {"index": i, "message": message, "finish_reason": finish, "logprobs": None}
            for i in range(int(request.get("n") or 1))
        ]
        return {
            "id": _new_id("chatcmpl"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": choices,
            "usage": _usage(request, text, len(choices)),
        }

    async def chat_stream(self, request: ChatRequest, model: str) -> AsyncIterator[ChatChunk]:
        settings = self._settings(request)  # type: ignore[arg-type]
        await self._begin(settings)
        return self._stream(request, model, settings)

    async def _stream(
        self, request: ChatRequest, model: str, settings: MockConfig
    ) -> AsyncIterator[ChatChunk]:
        text = self._reply(request, settings)
        tool_calls = _tool_calls(settings)
        base = {"id": _new_id("chatcmpl"), "object": "chat.completion.chunk",
                "created": int(time.time()), "model": model}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> ChatChunk:
            choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            return {**base, "choices": [choice]}  # type: ignore[typeddict-item]

        yield chunk({"role": "assistant", "content": ""})
        for piece in _pieces(text, settings.chunk_words) if not tool_calls else []:
            if settings.chunk_delay:
                await asyncio.sleep(settings.chunk_delay)
            yield chunk({"content": piece})
        for index, call in enumerate(tool_calls):
            head = {"index": index, "id": call["id"], "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""}}
            yield chunk({"tool_calls": [head]})
            arguments = call["function"]["arguments"]
            middle = len(arguments) // 2
            for part in (arguments[:middle], arguments[middle:]):
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
        yield chunk({}, "tool_calls" if tool_calls else "stop")
        if (request.get("stream_options") or {}).get("include_usage"):
            yield {**base, "choices": [], "usage": _usage(request, text, 1)}  # type: ignore[typeddict-item]

    async def completions(self, request: dict[str, Any], model: str) -> dict[str, Any]:
        settings = self._settings(request)
        await self._begin(settings)
        prompt = request.get("prompt")
        prompts = prompt if isinstance(prompt, list) else [prompt or ""]
        texts = [settings.reply if settings.reply is not None else str(p) for p in prompts]
        return {
            "id": _new_id("cmpl"),
            "object": "text_completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": i, "text": t, "finish_reason": "stop", "logprobs": None}
                for i, t in enumerate(texts)
            ],
            "usage": _count_usage(" ".join(str(p) for p in prompts), " ".join(texts)),
        }

    async def embeddings(self, request: EmbeddingRequest, model: str) -> dict[str, Any]:
        settings = self._settings(request)  # type: ignore[arg-type]
        await self._begin(settings)
        raw = request.get("input")
        inputs = raw if isinstance(raw, list) else [raw]
        dimensions = int(request.get("dimensions") or settings.embedding_dimensions)
        data = [
            {"object": "embedding", "index": i, "embedding": _vector(str(item), dimensions)}
            for i, item in enumerate(inputs)
        ]
        tokens = sum(len(str(item).split()) for item in inputs)
        return {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }


def _new_id(prefix: str) -> str:
    return f"{prefix}-mock{uuid.uuid4().hex[:20]}"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", "")) for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def _pieces(text: str, words_per_piece: int) -> list[str]:
    words = text.split(" ")
    return [
        (" " if start else "") + " ".join(words[start:start + words_per_piece])
        for start in range(0, len(words), words_per_piece)
    ] if text else []


def _tool_calls(settings: MockConfig) -> list[dict[str, Any]]:
    calls = []
    for index, call in enumerate(settings.tool_calls or []):
        arguments = call.get("arguments", {})
        calls.append({
            "id": f"call_mock{index}{uuid.uuid4().hex[:12]}",
            "type": "function",
            "function": {
                "name": str(call.get("name", "tool")),
                "arguments": arguments if isinstance(arguments, str)
                else orjson.dumps(arguments).decode(),
            },
        })
    return calls


def _usage(request: ChatRequest, text: str, choices: int) -> dict[str, int]:
    prompt = " ".join(_text_of(m.get("content")) for m in request.get("messages") or [])
    return _count_usage(prompt, text, choices)


def _count_usage(prompt: str, completion: str, choices: int = 1) -> dict[str, int]:
    """Words stand in for tokens: the mock has no tokenizer, and a stable count is what tests need."""
    prompt_tokens = len(prompt.split())
    completion_tokens = len(completion.split()) * choices
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _vector(text: str, dimensions: int) -> list[float]:
    """A deterministic unit-free vector: the same text always embeds the same way."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend(v / 2**31 for v in struct.unpack(">8i", digest))
        counter += 1
    return values[:dimensions]
