"""OpenAI's wire format: the canonical one, so encoding is just serialising.

One thing differs: a canonical stream always asks its provider for usage, so
the ledger records the provider's own counts; OpenAI's clients get the usage
chunk only when they asked for it (`stream_options.include_usage`), as OpenAI
itself sends it (some clients read `choices[0]` of every chunk).
"""

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


def wants_usage(body: dict[str, Any]) -> bool:
    """Whether an OpenAI client asked for the usage chunk of its stream."""
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


class OpenAIWire:
    name = "openai"

    def to_canonical(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("stream") or wants_usage(body):
            return body
        options = body.get("stream_options")
        return {**body, "stream_options": {**(options if isinstance(options, dict) else {}),
                                           "include_usage": True}}

    def encode_response(self, operation: str, response: dict[str, Any]) -> bytes:
        return orjson.dumps(response)

    async def encode_stream(
        self, operation: str, chunks: AsyncIterator[dict[str, Any]], body: dict[str, Any]
    ) -> AsyncIterator[bytes]:
        if wants_usage(body):
            async for chunk in chunks:
                yield sse(chunk)
        else:
            async for chunk in chunks:
                if "usage" in chunk:  # asked for on the client's behalf: the ledger has it already
                    if not chunk.get("choices"):
                        continue
                    chunk = {name: value for name, value in chunk.items() if name != "usage"}
                yield sse(chunk)
        yield DONE_EVENT

    def error_body(self, error: ClientError | UpstreamError) -> bytes:
        return orjson.dumps(error_object(error))

    def stream_error(self, error: UpstreamError) -> bytes:
        return sse(error_object(error))


OPENAI = OpenAIWire()
