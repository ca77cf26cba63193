"""The `mock` provider: a real provider type for working offline and testing clients.

It echoes the last user message (or answers with a configured reply), as JSON
when `response_format` asks for it, streams it word by word (every choice of
`n`), and can be told, in config or per request with an extra
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

    async def start(self) -> None:
        """Nothing to connect to: no HTTP session, so the built-in defaults (the mock alone,
        when no local server answers) never load the TLS trust store either."""

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
        text = settings.reply
        if text is None:
            users = (m for m in reversed(request.get("messages") or []) if m.get("role") == "user")
            text = next((_text_of(m.get("content")) for m in users), "")
        return _shaped(text, request.get("response_format"))

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

        choices = range(int(request.get("n") or 1))  # every choice's delta in turn, as OpenAI interleaves

        def chunks(delta: dict[str, Any], finish: str | None = None) -> list[ChatChunk]:
            return [{**base, "choices": [  # type: ignore[typeddict-item]
                {"index": choice, "delta": delta, "finish_reason": finish, "logprobs": None}]}
                for choice in choices]

        for event in chunks({"role": "assistant", "content": ""}):
            yield event
        for piece in _pieces(text, settings.chunk_words) if not tool_calls else []:
            if settings.chunk_delay:
                await asyncio.sleep(settings.chunk_delay)
            for event in chunks({"content": piece}):
                yield event
        for index, call in enumerate(tool_calls):
            head = {"index": index, "id": call["id"], "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""}}
            arguments = call["function"]["arguments"]
            middle = len(arguments) // 2
            for delta in (head, *({"index": index, "function": {"arguments": part}}
                                  for part in (arguments[:middle], arguments[middle:]))):
                for event in chunks({"tool_calls": [delta]}):
                    yield event
        for event in chunks({}, "tool_calls" if tool_calls else "stop"):
            yield event
        if (request.get("stream_options") or {}).get("include_usage"):
            usage = _usage(request, text, len(choices))
            yield {**base, "choices": [], "usage": usage}  # type: ignore[typeddict-item]

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


def _shaped(text: str, response_format: Any) -> str:
    """The reply as the client asked for it: JSON for `json_object`, the schema's shape for `json_schema`."""
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_object":
        return orjson.dumps({"reply": text}).decode()
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return orjson.dumps(_instance(schema if isinstance(schema, dict) else {}, text)).decode()
    return text


def _instance(schema: dict[str, Any], text: str) -> Any:
    """A value of the schema's shape: strings carry the reply, other types their plainest value."""
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        return {name: _instance(sub if isinstance(sub, dict) else {}, text)
                for name, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return []
    plain = {"integer": 0, "number": 0, "boolean": False, "null": None}
    return plain.get(kind, text) if isinstance(kind, str) else text


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
