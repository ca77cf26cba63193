"""Run an aiohttp application on its own event loop in a thread, on a free loopback port.

Both sync tests (the `openai` SDK's sync client, Typer's runner) and async tests
can then talk to it over real HTTP.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web


class ThreadedServer:
    def __init__(
        self, app: web.Application, *, handler_cancellation: bool = True,
        ssl_context: ssl.SSLContext | None = None, runner: type[web.AppRunner] = web.AppRunner,
        **runner_options: Any
    ) -> None:
        self.app = app
        self._runner_class = runner
        self._ssl_context = ssl_context  # serve HTTPS with it
        self._handler_cancellation = handler_cancellation
        self._runner_options = runner_options
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"{'https' if self._ssl_context else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> ThreadedServer:
        self._thread.start()
        self.call(self._start())
        return self

    async def _start(self) -> None:
        self._runner = self._runner_class(
            self.app, handler_cancellation=self._handler_cancellation, access_log=None,
            **self._runner_options,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl_context)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def call(self, coroutine: Awaitable[Any], timeout: float = 30) -> Any:
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)  # type: ignore[arg-type]

    def call_soon(self, callback: Callable[[], Any]) -> None:
        self.loop.call_soon_threadsafe(callback)

    def stop(self) -> None:
        if self._runner is not None:
            self.call(self._runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
