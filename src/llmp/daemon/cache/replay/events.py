"""Reading a stored stream back as events, and the error every replay raises."""

from __future__ import annotations

from typing import Any

import orjson

from llmp.daemon.providers.sse import SSEDecoder, SSEEvent


class Incomplete(ValueError):
    """The answer is not whole (cut short, failed, or partial): it is not stored or replayed."""


def parse_events(raw: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = decoder.feed(raw)
    if decoder.pending:
        raise Incomplete("the stream ends inside an event")
    return events


def json_object(data: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise Incomplete(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise Incomplete("not a JSON object")
    return value
