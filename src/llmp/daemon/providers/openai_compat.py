"""OpenAI and every server that speaks its API (OpenRouter, Groq, Ollama, vLLM, ...).

For an OpenAI client this adapter is a pass-through: the body goes up with only
`model` replaced and the answer comes back byte for byte. The canonical
methods exist for clients of other formats (an Anthropic client calling GPT).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from llmp.core.config_schema import ProviderConfig
from llmp.core.redact import redact_bytes
from llmp.daemon.errors import UpstreamError
from llmp.daemon.providers.base import Forwarded, Provider
from llmp.daemon.providers.http import (
    incomplete_stream,
    json_object,
    too_large,
    transport_error,
)
from llmp.daemon.providers.responses_relay import relay_responses
from llmp.daemon.providers.sse import iter_events
from llmp.daemon.telemetry.stream_usage import (
    has_usage,
    last_events,
    last_usage,
    split_usage,
)
from llmp.daemon.types import ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest

PATHS = {
    "chat": "/chat/completions",
    "completions": "/completions",
    "embeddings": "/embeddings",
    "responses": "/responses",
}
DONE = b"[DONE]"
ERROR = b'"error"'
USAGE = b'"usage"'  # one search rules out usage in most reads; `has_usage` looks closer at the rest
HIDDEN_USAGE = frozenset({"chat", "completions"})  # streams where llmp may ask for usage itself
LONG_READ = 1024  # bytes of whole events past which a read is searched for usage in its tail only
MAX_DESTINATIONS = 1024  # (operation, model) pairs whose URL is remembered
#: The member each operation's answer cannot do without: an answer lacking it is no answer.
EXPECTED = {"chat": "choices", "completions": "choices", "embeddings": "data"}


class OpenAICompatibleProvider(Provider):
    type_name = "openai"
    native_format = "openai"
    operations = frozenset({"chat", "completions", "embeddings"})

    def __init__(self, name: str, config: ProviderConfig) -> None:
        super().__init__(name, config)
        self._destinations: dict[tuple[str, str], tuple[str, str]] = {}
        serves = config.responses_api
        if serves is None:
            serves = self.type_name == "openai" and self.base_url.startswith("https://api.openai.com")
        if serves:
            self.relayed_formats = self.relayed_formats | {"responses"}

    def build_headers(self) -> dict[str, str]:
        headers = dict(self.config.headers)
        if self.key.value:
            headers["Authorization"] = f"Bearer {self.key.value}"
        return headers

    def url_for(self, operation: str, model: str) -> str:
        """Where an operation goes; servers that put the model in the path override this."""
        return self.base_url + PATHS[operation]

    def models_url(self) -> str:
        return self.base_url + "/models"

    def body_model(self, model: str) -> str:
        """The `model` the upstream expects in the body for a configured model name."""
        return model

    def _destination(self, operation: str, model: str) -> tuple[str, str]:
        """Where an operation for a model goes, and the model its body names: worked out once."""
        key = (operation, model)
        found = self._destinations.get(key)
        if found is None:
            if len(self._destinations) >= MAX_DESTINATIONS:  # "*" serves any name: stay bounded
                self._destinations.clear()
            found = self._destinations[key] = (self.url_for(operation, model), self.body_model(model))
        return found

    async def forward(
        self, operation: str, body: dict[str, Any], model: str, stream: bool
    ) -> Forwarded:
        url, upstream_model = self._destination(operation, model)
        extra: dict[str, Any] = {"model": upstream_model}
        asked = body.get("stream_options")
        hide_usage = stream and operation in HIDDEN_USAGE and self.config.stream_usage and not (
            isinstance(asked, dict) and asked.get("include_usage")
        )
        if hide_usage:  # usage for the ledger; the client who did not ask never sees it
            extra["stream_options"] = {**(asked or {}), "include_usage": True}
        try:
            response = await self.http.request(
                "POST", url, body=orjson.dumps({**body, **extra}), headers=self.headers(), stream=stream
            )
        except UpstreamError as error:
            if not (hide_usage and error.status in (400, 422) and "stream_options" in error.message):
                raise
            # A server that rejects the option we added: ask again as the client did.
            hide_usage = False
            response = await self.http.request(
                "POST", url, body=orjson.dumps({**body, "model": extra["model"]}),
                headers=self.headers(), stream=stream,
            )
        content_type = response.headers.get("Content-Type", "application/json")
        if not stream:
            data, answer = await self.http.answer(response, EXPECTED.get(operation))
            return Forwarded(response.status, content_type, body=data, answer=answer)
        forwarded = Forwarded(response.status, "text/event-stream")
        if operation == "responses":
            forwarded.chunks = relay_responses(self, response, forwarded)
            return forwarded
        forwarded.chunks = self._relay(response, forwarded, hide_usage)
        return forwarded

    async def _relay(
        self, response: Any, forwarded: Forwarded, hide_usage: bool = False
    ) -> AsyncIterator[bytes]:
        """Yield the upstream's bytes as they come, noting usage and insisting on `[DONE]`.

        This runs once per streamed chunk, so it never decodes events: it only
        looks at the complete events in each read (plus what a previous read left
        unfinished) for the two things it needs, and parses JSON only for the one
        event that carries usage. With `hide_usage`, the usage event llmp asked
        for on the client's behalf is taken out.
        """
        # What follows the last whole event, appended to in place and searched only where a read
        # added to it, so an event split over many reads is not copied again at each of them.
        carry = bytearray()
        lines = 0  # newlines in reads without usage: events, for an estimate should no usage come
        limits = self.http.limits
        left, max_event = limits.max_response_bytes, limits.max_event_bytes
        content = response.content
        try:
            while chunk := await content.readany():  # as `iter_any`, less an iterator's coroutine per read
                left -= len(chunk)
                if left < 0:
                    raise too_large(self.name, "an answer", "max_response_bytes")
                if not carry and chunk.endswith(b"\n\n"):  # whole events: the usual read
                    data, separator, end = chunk, b"\n\n", len(chunk) - 2
                else:
                    seam = max(0, len(carry) - 3)  # a blank line may straddle two reads
                    carry += chunk
                    separator = b"\n\n"
                    end = carry.rfind(separator, seam)
                    if end < 0:
                        separator = b"\r\n\r\n"
                        end = carry.rfind(separator, seam)
                    if end < 0:
                        if len(carry) > max_event:
                            raise too_large(self.name, "a stream event", "max_event_bytes")
                        data = b""
                    else:
                        data = bytes(carry)
                        del carry[: end + len(separator)]
                usage_seen = False
                if end >= 0:  # data[:end] is whole events
                    # Usage comes last: a long read (under load) is searched in its last events only.
                    start = last_events(data, separator, end) if end > LONG_READ else 0
                    if data.find(USAGE, start, end) >= 0 and has_usage(data, start, end):
                        usage_seen = True
                        if not hide_usage:  # else found where its event is cut out
                            forwarded.usage = last_usage(data[start:end], separator) or forwarded.usage
                    if data.endswith(DONE, 0, end):
                        forwarded.ended = True
                if not usage_seen:  # once usage is known, no estimate is needed: no count either
                    lines += chunk.count(b"\n")
                if hide_usage:  # whole events only, so the usage event can be cut out whole
                    if end < 0:
                        continue  # held in `carry` until its event is complete
                    chunk = data[: end + len(separator)]
                    if usage_seen:
                        usage, chunk = split_usage(chunk, separator)
                        forwarded.usage = usage or forwarded.usage
                    if not chunk:
                        continue
                if chunk.find(ERROR) >= 0:  # an error event may quote the key anywhere: rare, masked here
                    chunk = redact_bytes(chunk)
                yield chunk
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise transport_error(self.name, exc) from exc
        finally:
            # An OpenAI event is one `data:` line and a blank one; `[DONE]` is no content.
            forwarded.events = max(0, lines // 2 - forwarded.ended)
            self.http.release_stream(response, forwarded.ended)
        if hide_usage and carry:  # what came after the last whole event
            yield bytes(carry)
        if not (forwarded.ended or carry.strip().endswith(DONE)):
            raise incomplete_stream(self.name)

    async def chat(self, request: ChatRequest, model: str) -> ChatResponse:
        forwarded = await self.forward("chat", {**request, "stream": False}, model, False)
        return json_object(forwarded.body, self.name)

    async def chat_stream(self, request: ChatRequest, model: str) -> AsyncIterator[ChatChunk]:
        body: dict[str, Any] = {**request, "stream": True}
        if not self.config.stream_usage:  # a server that refuses the option: usage is estimated
            body.pop("stream_options", None)
        response = await self.http.request(
            "POST", self.url_for("chat", model),
            body=orjson.dumps({**body, "model": self.body_model(model)}), headers=self.headers(),
            stream=True,
        )
        return self._chunks(response)

    async def _chunks(self, response: Any) -> AsyncIterator[ChatChunk]:
        async for event in iter_events(response, self.name, self.http.limits):
            if event.data == DONE:
                return
            data = json_object(event.data, self.name)
            if "error" in data and "choices" not in data:
                from llmp.daemon.providers.http import parse_openai_error

                error = parse_openai_error(500, event.data)
                error.provider = self.name
                raise error
            yield data
        raise incomplete_stream(self.name)

    async def embeddings(self, request: EmbeddingRequest, model: str) -> dict[str, Any]:
        forwarded = await self.forward("embeddings", dict(request), model, False)
        return json_object(forwarded.body, self.name)

    async def completions(self, request: dict[str, Any], model: str) -> dict[str, Any]:
        forwarded = await self.forward("completions", {**request, "stream": False}, model, False)
        return json_object(forwarded.body, self.name)

    async def list_models(self) -> list[str]:
        response = await self.http.request("GET", self.models_url(), headers=self.headers())
        data = json_object(await self.http.body(response), self.name).get("data") or []
        return [str(item["id"]) for item in data if isinstance(item, dict) and "id" in item]
