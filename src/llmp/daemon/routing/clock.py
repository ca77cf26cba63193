"""Where routing reads the time and waits, so tests can move time themselves.

Everything that measures or waits in routing (breaker windows, recovery times,
rate-limit windows, backoff, health-check intervals) goes through a `Clock`;
the daemon uses the monotonic system clock, tests inject one they advance.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

Sleeper = Callable[[float], Awaitable[None]]


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""

    async def sleep(self, seconds: float) -> None:
        """Return once `seconds` have passed on this clock."""


class SystemClock:
    # The builtin itself, not a method wrapping it: routing reads the time several
    # times per request. (A builtin function does not bind, so `self` is not passed.)
    now = staticmethod(time.monotonic)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
