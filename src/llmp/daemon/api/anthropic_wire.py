"""Anthropic's Messages wire format, as the daemon speaks it to Anthropic clients.

With an Anthropic provider behind, dispatch relays the body untouched and this
is only consulted for errors; with any other provider, requests (checked by the
route handler) go through the canonical form, and answers come back as
Anthropic messages and stream events. Counting tokens with such a provider is
the provider's own count or llmp's estimate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from llmp.daemon.api.anthropic_events import anthropic_stream, event, message_from_chat
from llmp.daemon.api.anthropic_inbound import to_canonical
from llmp.daemon.errors import ClientError, UpstreamError
from llmp.daemon.providers.anthropic_response import (
    MALFORMED,
    STATUS_OF_TYPE,
    TYPE_OF_STATUS,
    unreadable,
)

PATH_PREFIX = "/v1/messages"


def error_type_for(status: int, given: str | None = None) -> str:
    """The type Anthropic gives this status; failing that, an Anthropic type the error already had."""
    if status in TYPE_OF_STATUS:
        return TYPE_OF_STATUS[status]
    if given in STATUS_OF_TYPE:
        return given  # type: ignore[return-value]
    return "api_error" if status >= 500 else "invalid_request_error"


def error_payload(status: int, message: str, given_type: str | None = None) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type_for(status, given_type), "message": message}}


class AnthropicWire:
    name = "anthropic"

    def to_canonical(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        if operation not in ("chat", "count_tokens"):
            raise ClientError(f"{operation} needs an Anthropic provider.")
        return to_canonical(body)

    def encode_response(self, operation: str, response: dict[str, Any]) -> bytes:
        if operation == "count_tokens":
            return orjson.dumps({"input_tokens": int(response.get("input_tokens") or 0)})
        try:
            return orjson.dumps(message_from_chat(response))
        except MALFORMED as exc:
            raise unreadable(None) from exc

    def encode_stream(
        self, operation: str, chunks: AsyncIterator[dict[str, Any]], body: dict[str, Any]
    ) -> AsyncIterator[bytes]:
        return anthropic_stream(chunks)

    def error_body(self, error: ClientError | UpstreamError) -> bytes:
        return orjson.dumps(error_payload(error.status, error.message, error.error_type))

    def stream_error(self, error: UpstreamError) -> bytes:
        return event("error", error_payload(error.status, error.message, error.error_type))


ANTHROPIC = AnthropicWire()
