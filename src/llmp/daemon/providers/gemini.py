"""Google Gemini, through the Gemini API (API key) or Vertex AI (OAuth token).

Both speak the same `GenerateContent` format; they differ in where the model
lives and how a request is signed:

* Gemini API: `{base_url}/models/{model}:generateContent`, key in the
  `x-goog-api-key` header (never in the URL: URLs end up in logs).
* Vertex AI: `{host}/v1/projects/{p}/locations/{l}/publishers/google/models/
  {model}:generateContent` with `Authorization: Bearer <token>`.

Streams use `:streamGenerateContent?alt=sse`: one complete
GenerateContentResponse per SSE event, translated chunk by chunk.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import struct
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import orjson

from llmp.core.config_schema import ProviderConfig
from llmp.core.presets import PRESETS
from llmp.daemon.errors import ClientError, ErrorKind, UpstreamError
from llmp.daemon.providers.base import Provider
from llmp.daemon.providers.gemini_errors import error_object, google_error, parse_google_error
from llmp.daemon.providers.gemini_request import build_request
from llmp.daemon.providers.gemini_response import StreamTranslator, chat_response
from llmp.daemon.providers.google_auth import TokenSource
from llmp.daemon.providers.http import Expected, json_object, too_large
from llmp.daemon.providers.sse import read_chunks
from llmp.daemon.providers.urls import path_segment
from llmp.daemon.types import ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest

SIGNATURES_KEPT = 4096
GEMINI_EMBED_BATCH = 100  # the most texts one batchEmbedContents call takes
VERTEX_EMBED_BATCH = 250  # the most instances one predict call takes
GEMINI_API_ROOT = PRESETS["gemini"].base_url
log = logging.getLogger("llmp.providers.gemini")


class GeminiProvider(Provider):
    type_name = "gemini"
    operations = frozenset({"chat", "embeddings", "count_tokens"})

    def __init__(self, name: str, config: ProviderConfig) -> None:
        super().__init__(name, config)
        self.tokens = TokenSource(name, config.vertex) if config.vertex else None
        self._signatures: OrderedDict[str, str] = OrderedDict()

    def uses_api_key(self) -> bool:
        return self.config.vertex is None  # Vertex AI authenticates with an access token instead

    # -- where and how ------------------------------------------------------

    @property
    def root(self) -> str:
        """Everything before `/models/...`."""
        vertex = self.config.vertex
        if vertex is None:
            return self.base_url
        host = self.base_url if self.base_url and self.base_url != GEMINI_API_ROOT else (
            "https://aiplatform.googleapis.com" if vertex.location == "global"
            else f"https://{vertex.location}-aiplatform.googleapis.com"
        )
        return f"{host}/v1/projects/{vertex.project}/locations/{vertex.location}/publishers/google"

    def _model_url(self, model: str, method: str) -> str:
        """`{root}/models/{model}:{method}`, the client's model name quoted as one segment."""
        return f"{self.root}/models/{path_segment(model, self.name)}:{method}"

    async def headers(self) -> dict[str, str]:
        headers = dict(self.config.headers)
        if self.tokens is not None:
            headers["Authorization"] = f"Bearer {await self.tokens.token()}"
        elif self.key.value:
            headers["x-goog-api-key"] = self.key.value
        return headers

    async def _post(self, url: str, body: dict[str, Any], stream: bool = False) -> Any:
        try:
            return await self.http.request(
                "POST", url, body=orjson.dumps(body), headers=await self.headers(),
                error_parser=parse_google_error, stream=stream,
            )
        except UpstreamError as error:
            if self.tokens is not None and error.status == 401:
                self.tokens.invalidate()
            raise

    async def _json(self, response: Any, expect: Expected = None) -> dict[str, Any]:
        payload = await self.http.body(response, expect)
        return json_object(payload, self.name)

    # -- thought signatures ---------------------------------------------------

    def _remember(self, call_id: str, signature: str) -> None:
        self._signatures[call_id] = signature
        while len(self._signatures) > SIGNATURES_KEPT:
            self._signatures.popitem(last=False)

    def _signature_for(self, call_id: str) -> str | None:
        return self._signatures.get(call_id)

    # -- chat -------------------------------------------------------------------

    async def chat(self, request: ChatRequest, model: str) -> ChatResponse:
        body = build_request(request, model, self._signature_for)
        response = await self._post(self._model_url(model, "generateContent"), body)
        # A prompt refused outright has feedback and no candidates.
        answer = await self._json(response, ("candidates", "promptFeedback"))
        return chat_response(answer, model, self._remember)

    async def chat_stream(self, request: ChatRequest, model: str) -> AsyncIterator[ChatChunk]:
        body = build_request(request, model, self._signature_for)
        url = self._model_url(model, "streamGenerateContent?alt=sse")
        response = await self._post(url, body, stream=True)
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        return self._chunks(response, StreamTranslator(model, self._remember), include_usage)

    async def count_tokens(self, request: ChatRequest, model: str) -> dict[str, Any]:
        """Gemini's own count, instructions and tools included; llmp's estimate if it fails.

        A client counts to plan (when to compact), so a guess serves it better
        than an error; the guess is marked as one all the same.
        """
        generate = build_request(request, model, self._signature_for)
        body = generate if self.tokens is not None else {
            "generateContentRequest": {"model": f"models/{model}", **generate}}
        try:
            response = await self._post(f"{self.root}/models/{model}:countTokens", body)
            total = (await self._json(response)).get("totalTokens")
        except UpstreamError as error:
            log.info("gemini %s: countTokens failed (%s); answering an estimate", self.name, error.kind.value)
            total = None
        if not isinstance(total, int):
            return await super().count_tokens(request, model)
        return {"input_tokens": total, "estimated": False}

    async def _chunks(
        self, response: Any, translator: StreamTranslator, include_usage: bool
    ) -> AsyncIterator[ChatChunk]:
        try:
            async for data in self._events(response):
                error = error_object(data)
                if error is not None:
                    failure = google_error(error)
                    failure.provider = self.name
                    raise failure
                if isinstance(data, dict):
                    for chunk in translator.feed(data):
                        yield chunk
        finally:
            # Closed early (the client went away): hang up on Google now, not at GC.
            response.close()
        if not translator.complete:
            raise self._incomplete("ended the stream before it was finished")
        if include_usage and translator.usage:
            yield translator.usage_chunk()

    async def _events(self, response: Any) -> AsyncIterator[Any]:
        """Each event's JSON. An error that strikes mid-stream may come as bare JSON lines
        instead of an SSE event, so lines outside `data:` are gathered until they parse."""
        stray = b""
        data: list[bytes] = []
        pending = bytearray()  # a line not yet ended: appended in place, never copied per read
        max_event = self.http.limits.max_event_bytes
        held = 0  # bytes of the data lines in `data`
        async for chunk in read_chunks(response, self.name, self.http.limits):
            if chunk.find(b"\n") < 0:
                pending += chunk
                if len(pending) > max_event:
                    raise too_large(self.name, "a stream event", "max_event_bytes")
                continue
            *lines, rest = (bytes(pending) + chunk).split(b"\n")
            pending[:] = rest
            for line in lines:
                line = line.rstrip(b"\r")
                if line.startswith(b"data:"):
                    data.append(line[5:].strip())
                    held += len(line)
                    if held > max_event:  # data lines that no blank line ever ends
                        raise too_large(self.name, "a stream event", "max_event_bytes")
                elif not line and data:
                    yield self._loads(b"\n".join(data))
                    data, held = [], 0
                elif stray or line.lstrip().startswith((b"{", b"[")):
                    stray += line
                    if len(stray) > max_event:
                        raise too_large(self.name, "a stream event", "max_event_bytes")
                    if stray.rstrip().endswith((b"}", b"]")):
                        with contextlib.suppress(orjson.JSONDecodeError):
                            yield orjson.loads(stray)
                            stray = b""
        if pending.startswith(b"data:"):
            data.append(bytes(pending[5:].strip()))
        if data:
            yield self._loads(b"\n".join(data))

    def _loads(self, payload: bytes) -> Any:
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise self._incomplete("sent an event that is not complete JSON") from None

    def _incomplete(self, what: str) -> UpstreamError:
        return UpstreamError(
            ErrorKind.INCOMPLETE, f"provider '{self.name}' {what}", status=502, provider=self.name
        )

    # -- embeddings and models ----------------------------------------------------

    async def embeddings(self, request: EmbeddingRequest, model: str) -> dict[str, Any]:
        raw = request.get("input")
        texts = raw if isinstance(raw, list) else [raw]
        if not all(isinstance(text, str) for text in texts):
            raise ClientError("Gemini embeds text only; send 'input' as strings.", param="input")
        dimensions = request.get("dimensions")
        if self.config.vertex is None:
            vectors, tokens = await self._embed_gemini(texts, model, dimensions)  # type: ignore[arg-type]
        else:
            vectors, tokens = await self._embed_vertex(texts, model, dimensions)  # type: ignore[arg-type]
        as_base64 = request.get("encoding_format") == "base64"
        return {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i,
                 "embedding": _base64(vector) if as_base64 else vector}
                for i, vector in enumerate(vectors)
            ],
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    async def _embed_gemini(
        self, texts: list[str], model: str, dimensions: int | None
    ) -> tuple[list[list[float]], int]:
        """batchEmbedContents takes 100 texts at a time and reports no token counts (usage 0)."""
        extra = {"outputDimensionality": dimensions} if dimensions else {}
        vectors: list[list[float]] = []
        for batch in _batches(texts, GEMINI_EMBED_BATCH):
            body = {"requests": [
                {"model": f"models/{model}", "content": {"parts": [{"text": text}]}, **extra}
                for text in batch
            ]}
            response = await self._post(self._model_url(model, "batchEmbedContents"), body)
            data = await self._json(response)
            vectors += [list(e.get("values") or []) for e in data.get("embeddings") or []]
        return vectors, 0

    async def _embed_vertex(
        self, texts: list[str], model: str, dimensions: int | None
    ) -> tuple[list[list[float]], int]:
        vectors: list[list[float]] = []
        tokens = 0
        for batch in _batches(texts, VERTEX_EMBED_BATCH):
            body: dict[str, Any] = {"instances": [{"content": text} for text in batch]}
            if dimensions:
                body["parameters"] = {"outputDimensionality": dimensions}
            response = await self._post(self._model_url(model, "predict"), body)
            predictions = (await self._json(response)).get("predictions") or []
            embeddings = [p.get("embeddings") or {} for p in predictions if isinstance(p, dict)]
            tokens += sum(int((e.get("statistics") or {}).get("token_count") or 0)
                          for e in embeddings)
            vectors += [list(e.get("values") or []) for e in embeddings]
        return vectors, tokens

    async def list_models(self) -> list[str]:
        """The Gemini API lists its models; Vertex's catalogue is another API, so config says."""
        if self.config.vertex is not None:
            return await super().list_models()
        names: list[str] = []
        token = ""
        for _ in range(20):  # pages of 1000; Google has far fewer models than that
            query = "?pageSize=1000" + (f"&pageToken={quote(token, safe='')}" if token else "")
            response = await self.http.request(
                "GET", f"{self.root}/models{query}", headers=await self.headers(),
                error_parser=parse_google_error,
            )
            data = await self._json(response)
            names += [str(m["name"]).removeprefix("models/") for m in data.get("models") or []
                      if isinstance(m, dict) and m.get("name")]
            token = str(data.get("nextPageToken") or "")
            if not token:
                break
        return names


def _batches(texts: list[str], size: int) -> list[list[str]]:
    return [texts[start:start + size] for start in range(0, len(texts), size)]


def _base64(vector: list[float]) -> str:
    """What OpenAI sends for encoding_format=base64: little-endian float32s."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
