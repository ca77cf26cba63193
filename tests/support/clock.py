"""A clock tests move by hand, so no test sleeps through a recovery time.

`sleep` waits until the test has advanced the clock past its deadline (the
health checker's interval); `skip` is the sleeper for backoff: the time passes
at once and is recorded, so a test can assert how long the router waited.
Both may be used from the gateway's thread while the test advances from its own.
"""

from __future__ import annotations

import asyncio
import threading


class ManualClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.t = start
        self.slept: list[float] = []
        self._lock = threading.Lock()
        self._sleepers: list[tuple[float, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (self.t + seconds, loop, future)
        with self._lock:
            self._sleepers.append(entry)
        try:
            await future
        finally:
            with self._lock:
                if entry in self._sleepers:
                    self._sleepers.remove(entry)

    async def skip(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.t += seconds
            due = [e for e in self._sleepers if e[0] <= self.t]
            for entry in due:
                self._sleepers.remove(entry)
        for _, loop, future in due:
            loop.call_soon_threadsafe(_wake, future)

    @property
    def waiting(self) -> int:
        """Sleepers not yet woken: lets a test see that a background loop is parked."""
        with self._lock:
            return len(self._sleepers)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
