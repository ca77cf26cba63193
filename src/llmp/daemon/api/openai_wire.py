"""OpenAI's wire format: the canonical one, so encoding is just serialising."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from llmp.daemon.errors import ClientError, UpstreamError

DONE_EVENT = b"data: [DONE]\n\n"


def sse(data: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"


def error_object(error: ClientError | UpstreamError) -> dict[str, Any]:
    return {
        "error": {
            "message": error.message,
            "type": error.error_type,
            "param": error.param,
            "code": error.code,
        }
    }


class OpenAIWire:
    name = "openai"

    def to_canonical(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        return body

    def encode_response(self, operation: str, response: dict[str, Any]) -> bytes:
        return orjson.dumps(response)

    async def encode_stream(
        self, operation: str, chunks: AsyncIterator[dict[str, Any]]
    ) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            yield sse(chunk)
        yield DONE_EVENT

    def error_body(self, error: ClientError | UpstreamError) -> bytes:
        return orjson.dumps(error_object(error))

    def stream_error(self, error: UpstreamError) -> bytes:
        return sse(error_object(error))


OPENAI = OpenAIWire()
