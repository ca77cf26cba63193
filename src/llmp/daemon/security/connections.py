"""A cap on client connections, and the descriptor limit its default comes from.

Without one, a flood of connections ran the daemon out of descriptors: every
accept, log file write and upstream connection then failed, and the errors
rotated the whole log history away. Past `server.limits.max_connections` a
new connection is answered at once with a fixed 503 (in the OpenAI error
shape, before aiohttp parses anything) and closed; the daemon says so in its
log at most once a second, with the count refused since, and counts every
refusal in `llmp_connections_refused_total`. A refused connection is given a
moment to read its answer; past `MAX_LINGERING` of them at once, the rest are
simply reset.

The default is derived from the descriptor limit, which the daemon raises to
its hard limit at start (macOS starts processes at 256 and reports an
unlimited hard limit it refuses; there the kernel's per-process cap is
asked for instead): files and pipes take `RESERVED_FILES`, and half of the
rest is for clients, as each client request in flight holds an upstream
connection too.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable

import orjson
from aiohttp import web

from llmp.daemon.security.refusal import openai_error

log = logging.getLogger("llmp.daemon")

RESERVED_FILES = 64  # logs, the ledger and its WAL, the cache, stored responses, pipes, DNS
MACOS_OPEN_MAX = 10240  # what macOS grants when the hard limit says "unlimited"
UNKNOWN_LIMIT_DEFAULT = 4096  # where there is no descriptor limit to read (Windows)
SAY_EVERY = 1.0  # seconds between two log lines about refused connections
LINGER = 1.0  # seconds a refused connection is given to read its answer and close
MAX_LINGERING = 256  # refused connections at once given that time; past it they are reset


def raise_descriptor_limit() -> int | None:
    """Raise this process's descriptor limit as far as it may go; the limit now (None: none to read)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard
    if sys.platform == "darwin" or hard == resource.RLIM_INFINITY:
        wanted = MACOS_OPEN_MAX if hard == resource.RLIM_INFINITY else min(hard, MACOS_OPEN_MAX)
    if wanted > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):
            log.info("descriptor limit stays at %d (could not raise it to %d)", soft, wanted)
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def default_max_connections(descriptors: int | None) -> int:
    if descriptors is None:
        return UNKNOWN_LIMIT_DEFAULT
    return max(1, (descriptors - RESERVED_FILES) // 2)


def refusal(limit: int) -> bytes:
    """The whole answer to a connection over the cap: a 503 that closes the connection."""
    body = orjson.dumps(openai_error(
        f"llmp is serving its maximum of {limit} connections "
        "(server.limits.max_connections); try again shortly",
        "server_error", "too_many_connections"))
    return (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            b"Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body), body))


class _Refused(asyncio.Protocol):
    """Answers, then reads and drops what the client sends until it closes (at most `LINGER`):
    closing with its request unread would reset the connection, and the reset would destroy
    the answer before the client read it."""

    def __init__(self, cap: ConnectionCap) -> None:
        self._cap = cap
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        self._cap.lingering += 1
        transport.write(self._cap.answer)
        if transport.can_write_eof():
            transport.write_eof()
        self._timer = asyncio.get_running_loop().call_later(LINGER, transport.abort)

    def data_received(self, data: bytes) -> None:
        pass  # the request is not read: it is refused whatever it says

    def connection_lost(self, exc: Exception | None) -> None:
        self._cap.lingering -= 1
        if self._timer is not None:
            self._timer.cancel()


class _Reset(asyncio.Protocol):
    """Too many refused connections still lingering: the cheapest refusal, a reset."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.abort()


class ConnectionCap:
    """The protocol factory in front of aiohttp's own: one call per accepted connection."""

    def __init__(self, server: web.Server, limit: int,
                 on_refused: Callable[[], None] = lambda: None) -> None:
        self._server = server
        self.limit = limit
        self._on_refused = on_refused
        self.answer = refusal(limit)
        self.lingering = 0  # refused connections not closed yet
        self._unsaid = 0
        self._said_at = -SAY_EVERY

    def __call__(self) -> asyncio.BaseProtocol:
        if len(self._server._connections) < self.limit:  # open connections, a dict: O(1)
            return self._server()
        self._on_refused()
        self._unsaid += 1
        now = time.monotonic()
        if now - self._said_at >= SAY_EVERY:
            log.warning("refused %d connection(s): %d are open, the most server.limits."
                        "max_connections allows", self._unsaid, self.limit)
            self._said_at, self._unsaid = now, 0
        return _Refused(self) if self.lingering < MAX_LINGERING else _Reset()


class CappedSite(web.TCPSite):
    """A TCP site whose connections past the cap are refused (see `ConnectionCap`)."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, cap: Callable[[web.Server],
                 ConnectionCap]) -> None:
        super().__init__(runner, host, port)
        self._cap = cap

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with its runner, as TCPSite does
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._cap(server), self._host, self._port, backlog=self._backlog)
        self._bound_port = self._server.sockets[0].getsockname()[1]
