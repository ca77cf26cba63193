"""How many exchanges one provider's connection pool carries at once.

aiohttp's own pool limit makes a request wait for a connection inside the
request's timers, so a full pool looked like a slow upstream: a long stream
request waiting for a connection got "no first token" and counted against
the provider's circuit without ever reaching it. The router takes a slot
here before it starts any timer of the upstream and gives it back when the
request ends; aiohttp's pool itself is left unbounded, as these slots bound it.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Slots:
    def __init__(self, size: int) -> None:
        self.size = size
        self.free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    def take_now(self) -> bool:
        """A slot at once, if one is free (nearly always): no await on the request's path."""
        if self.free:
            self.free -= 1
            return True
        return False

    async def take(self) -> None:
        """Wait in line for a slot; a slot handed over just as the wait is cancelled goes on."""
        if self.take_now():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.give()
            else:
                self._waiters.remove(waiter)
            raise

    def give(self) -> None:
        """A request ended: its slot goes to the first in line, else back to the pool."""
        if self._waiters:
            self._waiters.popleft().set_result(None)
        else:
            self.free += 1
