"""Server-sent events, read incrementally from an upstream response.

Upstreams split events across network reads at arbitrary places and use `\n`
or `\r\n` line endings; `SSEDecoder` hides both. A stream that ends in the
middle of an event, or before the provider's terminal event, is the caller's to
report as incomplete.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import NamedTuple

import aiohttp

from llmp.core.config_schema import LimitsConfig
from llmp.daemon.providers.http import too_large, transport_error

_DEFAULT_LIMITS = LimitsConfig()


class SSEEvent(NamedTuple):
    """One event: made for every event of every translated stream, so a tuple (cheaper to make
    than a frozen dataclass, as immutable)."""

    event: str | None
    data: bytes


class SSEDecoder:
    """Events from reads. What is not yet a whole event waits in a buffer of at most
    `max_event` bytes, appended to in place and searched only where a read added to it:
    one long event costs its length once, not once per read (quadratic in its length)."""

    def __init__(self, max_event: int = LimitsConfig().max_event_bytes, provider: str = "") -> None:
        self._pending = bytearray()
        self._max_event = max_event
        self._provider = provider

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        pending = self._pending
        seam = max(0, len(pending) - 3)  # a blank line may straddle two reads
        pending += chunk
        if not ends_event(pending, seam):
            if len(pending) > self._max_event:
                raise too_large(self._provider, "a stream event", "max_event_bytes")
            return []
        buffer = bytes(pending)
        pending.clear()
        if buffer.find(b"\r") >= 0:
            # A lone trailing \r may be the first half of \r\n: keep it for the next read.
            keep_cr = buffer.endswith(b"\r")
            body = buffer[:-1] if keep_cr else buffer
            buffer = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n") + (b"\r" if keep_cr else b"")
        *blocks, rest = buffer.split(b"\n\n")
        pending += rest
        events = []
        for block in blocks:
            event = _parse_block(block)
            if event is not None:
                events.append(event)
        return events

    @property
    def pending(self) -> bool:
        """True when an event was started but not finished."""
        return bool(self._pending.strip())

    def flush(self) -> list[SSEEvent]:
        """At end of stream: a final event without its blank line still counts."""
        block = bytes(self._pending)
        self._pending.clear()
        event = _parse_block(block.rstrip(b"\r\n"))
        return [event] if event is not None else []


def ends_event(data: bytes | bytearray, start: int = 0) -> bool:
    """Whether `data[start:]` may hold the blank line that ends an event, in any line ending."""
    return (data.find(b"\n\n", start) >= 0 or data.find(b"\r\r", start) >= 0
            or data.find(b"\r\n\r\n", start) >= 0)


def _parse_block(block: bytes) -> SSEEvent | None:
    if block.startswith(b"data: ") and block.find(b"\n") < 0:  # the usual event: one data line
        return SSEEvent(None, block[6:])
    event_name: str | None = None
    data_lines: list[bytes] = []
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        name, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            data_lines.append(value)
        elif name == b"event":
            event_name = value.decode("utf-8", "replace")
    if not data_lines and event_name is None:
        return None
    return SSEEvent(event_name, b"\n".join(data_lines))


async def read_chunks(response: aiohttp.ClientResponse, provider: str,
                      limits: LimitsConfig | None = None) -> AsyncIterator[bytes]:
    """The response body as it arrives, up to `max_response_bytes`; transport failures become
    `UpstreamError`."""
    left = (limits or _DEFAULT_LIMITS).max_response_bytes
    content = response.content
    try:
        while chunk := await content.readany():  # as `iter_any`, less an iterator's coroutine per read
            left -= len(chunk)
            if left < 0:
                raise too_large(provider, "an answer", "max_response_bytes")
            yield chunk
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise transport_error(provider, exc) from exc
    finally:
        response.release()


async def iter_events(response: aiohttp.ClientResponse, provider: str,
                      limits: LimitsConfig | None = None) -> AsyncIterator[SSEEvent]:
    limits = limits or _DEFAULT_LIMITS
    decoder = SSEDecoder(limits.max_event_bytes, provider)
    async for chunk in read_chunks(response, provider, limits):
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.flush():
        yield event
