"""The contract every provider adapter implements.

An adapter has two ways to serve a request:

* canonical: `chat`, `chat_stream`, `embeddings`, `completions` take and return
  OpenAI-shaped dicts. Translating adapters (Anthropic, Gemini, ...) convert
  both ways here. Streams are async iterators of `chat.completion.chunk` dicts.
* pass-through: when the client's wire format is the adapter's own
  (`native_format`), `forward` sends the client's body with only the model
  replaced and hands back the upstream's bytes untouched: no translation, no
  loss, least CPU.

Opening a stream (awaiting `chat_stream` or `forward`) sends the request and
checks the status, so every failure before the first byte raises
`UpstreamError` where the router can still retry or fail over.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from llmp.core.config_schema import ProviderConfig
from llmp.core.keys import ResolvedKey, missing_key_message, resolve_key
from llmp.daemon.errors import ErrorKind, UpstreamError
from llmp.daemon.providers.http import UpstreamHTTP
from llmp.daemon.providers.token_estimate import estimate_input_tokens
from llmp.daemon.types import ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest

PROBE_PROMPT = "ping"
_AUTH_HEADERS = {"authorization", "x-api-key", "api-key", "x-goog-api-key"}


@dataclass
class Forwarded:
    """An upstream answer in the client's own wire format, to be relayed as it is."""

    status: int
    content_type: str
    body: bytes = b""
    #: `body` parsed, when the adapter parsed it to check it (the cache then need not).
    answer: dict[str, Any] | None = None
    chunks: AsyncIterator[bytes] | None = None  # raw stream bytes, when streaming
    usage: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    events: int = 0  # stream events relayed; counted only while the stream has reported no usage
    #: The upstream's terminal event has been handed on: the answer is whole,
    #: whatever happens to the connection afterwards.
    ended: bool = False


class Provider(abc.ABC):
    """One configured upstream. Created at daemon start, closed at stop."""

    type_name: ClassVar[str]
    #: The inbound wire format this adapter can relay untouched, if any.
    native_format: ClassVar[str | None] = None
    #: Operations the upstream offers; anything else is a clear 400 to the client.
    operations: ClassVar[frozenset[str]] = frozenset({"chat"})
    #: The upstream answers chat only as a stream (health checks must stream too).
    streams_only: ClassVar[bool] = False

    def __init__(self, name: str, config: ProviderConfig) -> None:
        self.name = name
        self.config = config
        self.key: ResolvedKey = resolve_key(name, config)
        self._report_key_problem()
        self.key_missing = self._key_missing()
        self._headers: dict[str, str] | None = None
        self.http = UpstreamHTTP(name, config.timeout, connections=config.rate_limit.max_concurrent)
        #: The inbound formats relayed untouched (worked out once, looked up per request).
        self.relayed_formats: frozenset[str] = frozenset(
            (self.native_format,) if self.native_format else ())

    @property
    def base_url(self) -> str:
        return (self.config.base_url or "").rstrip("/")

    def reload_key(self) -> None:
        """Read the key again (it may have been set or removed while the daemon runs)."""
        self.key = resolve_key(self.name, self.config)
        self._headers = None
        self._report_key_problem()
        self.key_missing = self._key_missing()

    def headers(self) -> dict[str, str]:
        """The headers every request to the upstream carries.

        Built once per key rather than per request (a dict and an f-string each
        time is measurable on the hot path); a reloaded key builds them afresh.
        Callers copy before adding to them (`UpstreamHTTP.request` does).
        """
        if self._headers is None:
            self._headers = self.build_headers()
        return self._headers

    def build_headers(self) -> dict[str, str]:
        """The configured headers; adapters add their own credentials."""
        return dict(self.config.headers)

    def _report_key_problem(self) -> None:
        if self.key.problem:  # a keyring that refused, said once per (re)load rather than "no key"
            logging.getLogger("llmp.providers").warning("provider %s: %s", self.name, self.key.problem)

    def _key_missing(self) -> bool:
        """Needs an API key and has none (worked out when the key is read, not per request)."""
        return self.key.source == "missing" and self.uses_api_key()

    def uses_api_key(self) -> bool:
        """Whether requests carry the API key: not when the config's own headers authenticate,
        nor (see the adapters) when the adapter has other credentials."""
        return not any(header.lower() in _AUTH_HEADERS for header in self.config.headers)

    def missing_key_error(self) -> UpstreamError:
        """Why this provider cannot be called: it needs a key and has none.

        Raised before any upstream call, so an offline user reads what to do
        instead of a DNS error, and the upstream never sees a keyless request.
        """
        return UpstreamError(
            ErrorKind.AUTH, missing_key_message(self.name, self.key.variable),
            status=401, provider=self.name, code="missing_api_key",
        )

    def serves(self, model: str) -> bool:
        return "*" in self.config.models or model in self.config.models

    async def start(self) -> None:
        await self.http.start()

    async def close(self) -> None:
        await self.http.close()

    def unsupported(self, operation: str) -> UpstreamError:
        return UpstreamError(
            ErrorKind.BAD_REQUEST,
            f"provider '{self.name}' ({self.type_name}) does not support {operation}",
            status=400,
            provider=self.name,
            code="unsupported_operation",
        )

    # -- canonical operations -------------------------------------------------

    @abc.abstractmethod
    async def chat(self, request: ChatRequest, model: str) -> ChatResponse:
        """A complete chat completion."""

    @abc.abstractmethod
    async def chat_stream(self, request: ChatRequest, model: str) -> AsyncIterator[ChatChunk]:
        """Open a stream; the returned iterator yields chunks until the upstream has finished.

        It must raise `UpstreamError(ErrorKind.INCOMPLETE, ...)` rather than end
        quietly when the upstream stops without its terminal event.
        """

    async def embeddings(self, request: EmbeddingRequest, model: str) -> dict[str, Any]:
        raise self.unsupported("embeddings")

    async def completions(self, request: dict[str, Any], model: str) -> dict[str, Any]:
        raise self.unsupported("completions")

    async def count_tokens(self, request: ChatRequest, model: str) -> dict[str, Any]:
        """`{"input_tokens": n, "estimated": bool}` for a canonical request.

        An adapter whose upstream can count overrides this; every other one
        guesses locally, because a client that counts (Claude Code does, to
        decide when to compact) breaks on an error here.
        """
        return {"input_tokens": estimate_input_tokens(dict(request)), "estimated": True}

    async def list_models(self) -> list[str]:
        """Models the upstream offers (used for discovery and health checks)."""
        return [m for m in self.config.models if m != "*"]

    @classmethod
    def lists_models(cls) -> bool:
        """Whether `list_models` asks the upstream (an authenticated call) or only reads the config."""
        return cls.list_models is not Provider.list_models

    async def probe_completion(self, model: str) -> None:
        """The smallest authenticated completion (one token), for health and key checks."""
        request: dict[str, Any] = {
            "model": model, "max_tokens": 1, "messages": [{"role": "user", "content": PROBE_PROMPT}],
        }
        if not self.streams_only:
            await self.chat(request, model)  # type: ignore[arg-type]
            return
        chunks = await self.chat_stream({**request, "stream": True}, model)  # type: ignore[arg-type]
        async for _ in chunks:
            pass

    # -- pass-through ---------------------------------------------------------

    async def forward(
        self, operation: str, body: dict[str, Any], model: str, stream: bool
    ) -> Forwarded:
        """Relay a request in `native_format`; only called when the formats match."""
        raise self.unsupported(f"pass-through of {operation}")
