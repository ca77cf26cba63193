"""Server-sent events, read incrementally from an upstream response.

Upstreams split events across network reads at arbitrary places and use `\n`
or `\r\n` line endings; `SSEDecoder` hides both. A stream that ends in the
middle of an event, or before the provider's terminal event, is the caller's to
report as incomplete.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

from llmp.daemon.providers.http import transport_error


@dataclass(frozen=True)
class SSEEvent:
    event: str | None
    data: bytes


class SSEDecoder:
    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buffer = self._buffer + chunk
        if b"\r" in buffer:
            # A lone trailing \r may be the first half of \r\n: keep it for the next read.
            keep_cr = buffer.endswith(b"\r")
            body = buffer[:-1] if keep_cr else buffer
            buffer = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n") + (b"\r" if keep_cr else b"")
        *blocks, self._buffer = buffer.split(b"\n\n")
        events = []
        for block in blocks:
            event = _parse_block(block)
            if event is not None:
                events.append(event)
        return events

    @property
    def pending(self) -> bool:
        """True when an event was started but not finished."""
        return bool(self._buffer.strip())

    def flush(self) -> list[SSEEvent]:
        """At end of stream: a final event without its blank line still counts."""
        block, self._buffer = self._buffer, b""
        event = _parse_block(block.rstrip(b"\r\n"))
        return [event] if event is not None else []


def _parse_block(block: bytes) -> SSEEvent | None:
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


async def read_chunks(response: aiohttp.ClientResponse, provider: str) -> AsyncIterator[bytes]:
    """The response body as it arrives; transport failures become `UpstreamError`."""
    try:
        async for chunk in response.content.iter_any():
            yield chunk
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise transport_error(provider, exc) from exc
    finally:
        response.release()


async def iter_events(response: aiohttp.ClientResponse, provider: str) -> AsyncIterator[SSEEvent]:
    decoder = SSEDecoder()
    async for chunk in read_chunks(response, provider):
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.flush():
        yield event
