"""Relaying a Responses API stream untouched from an upstream that serves `/responses` itself.

A Responses stream has no `[DONE]`: it ends with its terminal event
(`response.completed`, `.incomplete`, `.failed`, or `error`), whose `response`
carries the usage. The relay looks only at whole events' `type` for that,
and parses JSON only for the terminal event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from llmp.daemon.providers.base import Forwarded
from llmp.daemon.providers.http import incomplete_stream, transport_error

TERMINAL = (b'"type":"response.completed"', b'"type":"response.incomplete"',
            b'"type":"response.failed"', b'"type":"error"', b"event: error")


async def relay_responses(provider: Any, response: Any, forwarded: Forwarded) -> AsyncIterator[bytes]:
    carry = b""
    try:
        async for chunk in response.content.iter_any():
            forwarded.events += chunk.count(b"\n\n")
            data = carry + chunk
            end = data.rfind(b"\n\n")
            carry = data if end < 0 else data[end + 2:]
            if end >= 0 and not forwarded.ended:
                _terminal(data[:end], forwarded)
            yield chunk
            if forwarded.ended:
                return
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise transport_error(provider.name, exc) from exc
    finally:
        provider.http.release_stream(response, forwarded.ended)
    if carry.strip():
        _terminal(carry, forwarded)
    if not forwarded.ended:
        raise incomplete_stream(provider.name)


def _terminal(events: bytes, forwarded: Forwarded) -> None:
    """Mark the stream ended if `events` hold its terminal event, and keep that event's usage."""
    compact = events.replace(b'": "', b'":"')
    if not any(marker in compact for marker in TERMINAL):
        return
    forwarded.ended = True
    last = events[events.rfind(b"data:") + 5:].split(b"\n", 1)[0]
    try:
        usage = (orjson.loads(last).get("response") or {}).get("usage")
    except (orjson.JSONDecodeError, AttributeError):
        return
    if isinstance(usage, dict):
        forwarded.usage = usage
