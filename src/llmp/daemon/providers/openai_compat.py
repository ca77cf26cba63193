"""OpenAI and every server that speaks its API (OpenRouter, Groq, Ollama, vLLM, ...).

For an OpenAI client this adapter is a pass-through: the body goes up with only
`model` replaced and the answer comes back byte for byte. The canonical
methods exist for clients of other formats (an Anthropic client calling GPT).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from llmp.daemon.errors import ErrorKind, UpstreamError
from llmp.daemon.providers.base import Forwarded, Provider
from llmp.daemon.providers.sse import SSEDecoder, iter_events, read_chunks
from llmp.daemon.telemetry.stream_usage import UsageEventFilter
from llmp.daemon.types import ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest

PATHS = {
    "chat": "/chat/completions",
    "completions": "/completions",
    "embeddings": "/embeddings",
}
DONE = b"[DONE]"


class OpenAICompatibleProvider(Provider):
    type_name = "openai"
    native_format = "openai"
    operations = frozenset({"chat", "completions", "embeddings"})

    def headers(self) -> dict[str, str]:
        headers = dict(self.config.headers)
        if self.key.value:
            headers["Authorization"] = f"Bearer {self.key.value}"
        return headers

    async def forward(
        self, operation: str, body: dict[str, Any], model: str, stream: bool
    ) -> Forwarded:
        extra: dict[str, Any] = {"model": model}
        hide_usage = stream and operation != "embeddings" and self.config.stream_usage and not (
            isinstance(body.get("stream_options"), dict) and body["stream_options"].get("include_usage")
        )
        if hide_usage:  # usage for the ledger; the client who did not ask never sees it
            extra["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        url = self.base_url + PATHS[operation]
        try:
            response = await self.http.request(
                "POST", url, body=orjson.dumps({**body, **extra}), headers=self.headers(), stream=stream,
            )
        except UpstreamError as error:
            if not (hide_usage and error.status in (400, 422) and "stream_options" in error.message):
                raise
            # A server that rejects the option we added: ask again as the client did.
            hide_usage = False
            response = await self.http.request(
                "POST", url, body=orjson.dumps({**body, "model": model}), headers=self.headers(),
                stream=stream,
            )
        content_type = response.headers.get("Content-Type", "application/json")
        if not stream:
            data = b"".join([chunk async for chunk in read_chunks(response, self.name)])
            return Forwarded(response.status, content_type, body=data)
        forwarded = Forwarded(response.status, "text/event-stream")
        forwarded.chunks = self._relay(response, forwarded, hide_usage)
        return forwarded

    async def _relay(
        self, response: Any, forwarded: Forwarded, hide_usage: bool = False
    ) -> AsyncIterator[bytes]:
        """Yield the upstream's bytes as they come, noting usage and insisting on `[DONE]`."""
        decoder = SSEDecoder()
        hidden = UsageEventFilter() if hide_usage else None
        finished = False
        async for chunk in read_chunks(response, self.name):
            usage_seen = False
            for event in decoder.feed(chunk):
                if event.data == DONE:
                    finished = True
                    continue
                forwarded.events += 1
                if b'"usage":{' in event.data or b'"usage": {' in event.data:
                    forwarded.usage = _usage_of(event.data)
                    usage_seen = True
            if hidden is not None:
                chunk = hidden.feed(chunk, usage_seen)
                if not chunk:
                    continue
            yield chunk
        if hidden is not None and (tail := hidden.flush()):
            yield tail
        if not finished:
            raise _incomplete(self.name)

    async def chat(self, request: ChatRequest, model: str) -> ChatResponse:
        forwarded = await self.forward("chat", {**request, "stream": False}, model, False)
        return _json(forwarded.body, self.name)

    async def chat_stream(self, request: ChatRequest, model: str) -> AsyncIterator[ChatChunk]:
        body = {**request, "stream": True}
        response = await self.http.request(
            "POST", self.base_url + PATHS["chat"], body=orjson.dumps({**body, "model": model}),
            headers=self.headers(), stream=True,
        )
        return self._chunks(response)

    async def _chunks(self, response: Any) -> AsyncIterator[ChatChunk]:
        async for event in iter_events(response, self.name):
            if event.data == DONE:
                return
            data = _json(event.data, self.name)
            if "error" in data and "choices" not in data:
                from llmp.daemon.providers.http import parse_openai_error

                error = parse_openai_error(500, event.data)
                error.provider = self.name
                raise error
            yield data
        raise _incomplete(self.name)

    async def embeddings(self, request: EmbeddingRequest, model: str) -> dict[str, Any]:
        forwarded = await self.forward("embeddings", dict(request), model, False)
        return _json(forwarded.body, self.name)

    async def completions(self, request: dict[str, Any], model: str) -> dict[str, Any]:
        forwarded = await self.forward("completions", {**request, "stream": False}, model, False)
        return _json(forwarded.body, self.name)

    async def list_models(self) -> list[str]:
        response = await self.http.request("GET", self.base_url + "/models", headers=self.headers())
        body = b"".join([chunk async for chunk in read_chunks(response, self.name)])
        data = _json(body, self.name).get("data") or []
        return [str(item["id"]) for item in data if isinstance(item, dict) and "id" in item]


def _json(payload: bytes, provider: str) -> dict[str, Any]:
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise UpstreamError(
            ErrorKind.INCOMPLETE,
            f"provider '{provider}' sent an answer that is not a complete JSON object",
            status=502,
            provider=provider,
        )
    return data


def _usage_of(data: bytes) -> dict[str, Any] | None:
    try:
        usage = orjson.loads(data).get("usage")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return usage if isinstance(usage, dict) else None


def _incomplete(provider: str) -> UpstreamError:
    return UpstreamError(
        ErrorKind.INCOMPLETE,
        f"provider '{provider}' ended the stream before it was finished",
        status=502,
        provider=provider,
    )
