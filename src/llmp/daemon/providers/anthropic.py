"""Anthropic's Messages API (`type: anthropic`).

`base_url` is the API root (`https://api.anthropic.com`); this adapter appends
`/v1/...`. For an Anthropic client it is a pass-through: the body goes up with
only `model` replaced and the answer comes back as it was sent, stream events
included. OpenAI clients go through the canonical translation in
`anthropic_request`, `anthropic_response` and `anthropic_stream`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from llmp.core.config_schema import LimitsConfig
from llmp.daemon.errors import UpstreamError
from llmp.daemon.providers.anthropic_headers import CLIENT_HEADERS
from llmp.daemon.providers.anthropic_request import to_anthropic
from llmp.daemon.providers.anthropic_response import (
    MALFORMED,
    canonical_usage,
    chat_from_message,
    parse_anthropic_error,
    stream_error,
    unreadable,
)
from llmp.daemon.providers.anthropic_stream import canonical_chunks
from llmp.daemon.providers.base import Forwarded, Provider
from llmp.daemon.providers.http import (
    incomplete_stream,
    json_object,
    too_large,
    transport_error,
)
from llmp.daemon.providers.sse import _parse_block, iter_events
from llmp.daemon.types import ChatChunk, ChatRequest, ChatResponse

API_VERSION = "2023-06-01"
PATHS = {"chat": "/v1/messages", "count_tokens": "/v1/messages/count_tokens"}
#: The member each operation's answer cannot do without: an answer lacking it is no answer.
EXPECTED = {"chat": "content", "count_tokens": "input_tokens"}


class AnthropicProvider(Provider):
    type_name = "anthropic"
    native_format = "anthropic"
    operations = frozenset({"chat", "count_tokens"})

    @property
    def base_url(self) -> str:
        """The API root; a configured `.../v1` (as OpenAI-style URLs have) means the same root."""
        return super().base_url.removesuffix("/v1")

    def build_headers(self) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION, **self.config.headers}
        if self.key.value:
            headers["x-api-key"] = self.key.value
        return headers

    def headers(self, beta: str | None = None, version: str | None = None) -> dict[str, str]:
        """The built headers, with the client's beta flags and API version when it sent them.

        A version in the config wins over the client's; betas add to the configured ones.
        """
        built = super().headers()
        if not (beta or version):
            return built
        headers = dict(built)
        if version and "anthropic-version" not in self.config.headers:
            headers["anthropic-version"] = version
        if beta:
            configured = headers.get("anthropic-beta")
            headers["anthropic-beta"] = f"{configured},{beta}" if configured else beta
        return headers

    async def _post(
        self, operation: str, body: dict[str, Any], client: dict[str, str] | None = None,
        stream: bool = False,
    ) -> aiohttp.ClientResponse:
        client = client or {}
        headers = self.headers(client.get("anthropic-beta"), client.get("anthropic-version"))
        return await self.http.request(
            "POST", self.base_url + PATHS[operation], body=orjson.dumps(body),
            headers=headers, error_parser=parse_anthropic_error, stream=stream,
        )

    # -- pass-through -----------------------------------------------------------

    async def forward(
        self, operation: str, body: dict[str, Any], model: str, stream: bool
    ) -> Forwarded:
        response = await self._post(operation, {**body, "model": model}, CLIENT_HEADERS.get(), stream)
        if not stream:
            data, answer = await self.http.answer(response, EXPECTED.get(operation))
            content_type = response.headers.get("Content-Type", "application/json")
            return Forwarded(response.status, content_type, body=data, answer=answer,
                             usage=_usage_of(data))
        forwarded = Forwarded(response.status, "text/event-stream")
        forwarded.chunks = self._relay(response, forwarded)
        return forwarded

    async def _relay(
        self, response: aiohttp.ClientResponse, forwarded: Forwarded
    ) -> AsyncIterator[bytes]:
        """The upstream's events, relayed whole as they complete, untouched.

        Relaying at event boundaries lets an `event: error` be taken out and
        raised instead, so the client sees exactly one error event (written by
        dispatch in its own format) and, before the first byte, the router may
        still fail over.
        """
        usage: dict[str, Any] = {}
        try:
            async for complete in _whole_events(response.content.iter_any(), self.name, self.http.limits):
                relayed, error, stop = self._scan(complete, usage, forwarded)
                forwarded.ended = forwarded.ended or stop
                if relayed:
                    yield relayed
                if error is not None:
                    raise error
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise transport_error(self.name, exc) from exc
        finally:
            self.http.release_stream(response, forwarded.ended)
        if not forwarded.ended:
            raise incomplete_stream(self.name)

    def _scan(
        self, complete: bytes, usage: dict[str, Any], forwarded: Forwarded
    ) -> tuple[bytes, UpstreamError | None, bool]:
        """What of these whole events to relay, the error among them, and whether the stream ended."""
        if b"message_" not in complete and b"error" not in complete:
            return complete, None, False  # content deltas only: the common case, not worth parsing
        offset, stopped = 0, False
        for block in complete.split(b"\n\n")[:-1]:
            event = _parse_block(block)
            name = event.event if event is not None else None
            if name == "error":
                assert event is not None
                return complete[:offset], stream_error(event.data, self.name), stopped
            if name == "message_stop":
                stopped = True
            elif name in ("message_start", "message_delta") and event is not None:
                _note_usage(event.data, usage)
                forwarded.usage = canonical_usage(usage)
            offset += len(block) + 2
        return complete, None, stopped

    # -- canonical --------------------------------------------------------------

    async def chat(self, request: ChatRequest, model: str) -> ChatResponse:
        response = await self._post("chat", to_anthropic(request, model, stream=False))
        message = json_object(await self.http.body(response, EXPECTED["chat"]), self.name)
        try:
            return chat_from_message(message)
        except MALFORMED as exc:
            raise unreadable(self.name) from exc

    async def chat_stream(self, request: ChatRequest, model: str) -> AsyncIterator[ChatChunk]:
        response = await self._post("chat", to_anthropic(request, model, stream=True), stream=True)
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        return canonical_chunks(iter_events(response, self.name, self.http.limits), self.name, include_usage)

    async def list_models(self) -> list[str]:
        response = await self.http.request(
            "GET", self.base_url + "/v1/models?limit=1000", headers=self.headers(),
            error_parser=parse_anthropic_error,
        )
        data = json_object(await self.http.body(response), self.name).get("data") or []
        return [str(item["id"]) for item in data if isinstance(item, dict) and "id" in item]


async def _whole_events(chunks: AsyncIterator[bytes], provider: str,
                        limits: LimitsConfig) -> AsyncIterator[bytes]:
    """The bytes regrouped so each piece ends at an event boundary (a blank line), within
    `max_response_bytes` in all and `max_event_bytes` for what no blank line has ended yet.

    What waits is appended to in place and searched only where a read added to
    it: an event split over many reads is not copied again at each of them.
    CRLF line ends, which Anthropic does not send but a proxy in between might, become LF.
    """
    pending = bytearray()
    left, max_event = limits.max_response_bytes, limits.max_event_bytes
    async for chunk in chunks:
        left -= len(chunk)
        if left < 0:
            raise too_large(provider, "an answer", "max_response_bytes")
        if not pending and chunk.endswith(b"\n\n") and chunk.find(b"\r") < 0:
            yield chunk  # whole events already, as upstreams mostly send them: no copy
            continue
        seam = max(0, len(pending) - 3)
        pending += chunk
        if pending.find(b"\r", seam) >= 0:  # (a \r\n may straddle two reads)
            pending[:] = pending.replace(b"\r\n", b"\n")
            seam = 0
        cut = pending.rfind(b"\n\n", seam) + 2
        if cut >= 2:
            complete = bytes(pending[:cut])
            del pending[:cut]
            yield complete
        elif len(pending) > max_event:
            raise too_large(provider, "a stream event", "max_event_bytes")
    if pending.strip():  # a last event without its blank line still counts
        yield bytes(pending) + b"\n\n"


def _note_usage(data: bytes, usage: dict[str, Any]) -> None:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return
    if not isinstance(parsed, dict):
        return
    found = parsed.get("usage") or (parsed.get("message") or {}).get("usage")
    if isinstance(found, dict):
        usage.update({k: v for k, v in found.items() if v is not None})


def _usage_of(body: bytes) -> dict[str, Any] | None:
    usage: dict[str, Any] = {}
    _note_usage(body, usage)
    return canonical_usage(usage) if usage else None
