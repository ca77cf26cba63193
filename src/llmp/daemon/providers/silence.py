"""The idle timeout of an upstream stream (`timeout.idle`): one timer per stream, not per read."""

from __future__ import annotations

import asyncio

import aiohttp

#: Looks per `timeout.idle` for new bytes: a silence is noticed within 1 + 1/LOOKS of it.
LOOKS = 8


def watch_silence(response: aiohttp.ClientResponse, idle: float) -> None:
    """End a stream whose upstream sends nothing for `idle` seconds, at no cost per read.

    aiohttp's own read timer (`sock_read`) makes and cancels a timer handle at
    every read, the bulk of a relayed event's cost beyond the relay itself.
    Here one timer per stream looks every `idle / LOOKS` seconds at the bytes
    the response has received so far (which aiohttp counts anyway); a stream
    that received none over LOOKS looks in a row fails its read as aiohttp's
    timer would (`SocketTimeoutError`, so `transport_error` names it
    `idle_timeout`), and its connection is closed, never pooled. Never sooner
    than `idle`, at most `idle / LOOKS` later.
    """
    content = response.content
    loop = asyncio.get_running_loop()
    interval = idle / LOOKS
    seen, quiet = content.total_bytes, 0

    def look() -> None:
        nonlocal seen, quiet
        if response.closed or content.is_eof() or content.exception() is not None:
            return  # released, read to its end or failed: nothing left to watch
        if content.total_bytes != seen:
            seen, quiet = content.total_bytes, 0
        else:
            quiet += 1
            if quiet >= LOOKS:
                silent = aiohttp.SocketTimeoutError("Timeout on reading data from socket")
                connection = response.connection
                if connection is not None and connection.protocol is not None:
                    connection.protocol.set_exception(silent)  # also closes it rather than pooling it
                content.set_exception(silent)
                return
        loop.call_later(interval, look)

    loop.call_later(interval, look)
