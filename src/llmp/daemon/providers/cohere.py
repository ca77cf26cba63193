"""Cohere: chat v2 (`/v2/chat`), embeddings (`/v2/embed`) and model discovery (`/v1/models`).

Every request is translated (see `cohere_wire` and `cohere_stream`); there is
no pass-through because no client speaks Cohere's format to llmp. Cohere's
error bodies (`{"id", "message"}`) are read by the shared parser, so statuses,
messages and `Retry-After` reach the client as they came.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from llmp.daemon.providers.base import Provider
from llmp.daemon.providers.cohere_stream import StreamTranslator
from llmp.daemon.providers.cohere_wire import (
    chat_request,
    chat_response,
    embed_request,
    embed_response,
)
from llmp.daemon.providers.http import Expected, incomplete_stream, json_object
from llmp.daemon.providers.sse import iter_events
from llmp.daemon.types import ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest

DONE = b"[DONE]"


class CohereProvider(Provider):
    type_name = "cohere"
    # Legacy `/v1/completions` is bridged to chat by the dispatcher.
    operations = frozenset({"chat", "embeddings"})

    @property
    def base_url(self) -> str:
        """The API root; a configured `.../v2` or `.../v1` (as Cohere's own URLs show) means it too."""
        return super().base_url.removesuffix("/v2").removesuffix("/v1")

    def build_headers(self) -> dict[str, str]:
        headers = dict(self.config.headers)
        if self.key.value:
            headers["Authorization"] = f"Bearer {self.key.value}"
        return headers

    async def _post(self, path: str, body: dict[str, Any], stream: bool = False) -> Any:
        return await self.http.request(
            "POST", self.base_url + path, body=orjson.dumps(body), headers=self.headers(),
            stream=stream,
        )

    async def _readjson_object(self, response: Any, expect: Expected = None) -> dict[str, Any]:
        return json_object(await self.http.body(response, expect), self.name)

    async def chat(self, request: ChatRequest, model: str) -> ChatResponse:
        response = await self._post("/v2/chat", chat_request(request, model))
        return chat_response(await self._readjson_object(response, "message"), model, self.name)

    async def chat_stream(self, request: ChatRequest, model: str) -> AsyncIterator[ChatChunk]:
        body = {**chat_request(request, model), "stream": True}
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        response = await self._post("/v2/chat", body, stream=True)
        return self._chunks(response, StreamTranslator(model, self.name, include_usage))

    async def _chunks(self, response: Any, translator: StreamTranslator) -> AsyncIterator[ChatChunk]:
        async for event in iter_events(response, self.name, self.http.limits):
            if event.data == DONE or not event.data.strip():
                continue
            for chunk in translator.translate(json_object(event.data, self.name)):
                yield chunk
            if translator.finished:
                return
        raise incomplete_stream(self.name)

    async def embeddings(self, request: EmbeddingRequest, model: str) -> dict[str, Any]:
        response = await self._post("/v2/embed", embed_request(request, model))
        data = await self._readjson_object(response)
        return embed_response(data, model, request.get("encoding_format"))

    async def list_models(self) -> list[str]:
        response = await self.http.request(
            "GET", self.base_url + "/v1/models?page_size=1000", headers=self.headers()
        )
        models = (await self._readjson_object(response)).get("models") or []
        return [str(m["name"]) for m in models if isinstance(m, dict) and "name" in m]
