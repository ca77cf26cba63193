"""Bounding an await in time, for the per-request hot path.

`asyncio.wait_for` wraps what it waits for in a new task: tens of
microseconds of CPU, on every request, in each place the daemon bounds a wait
(the body read, the first token, the upstream's headers, the request's
deadline). `asyncio.timeout` (Python 3.11+) only arms a timer on the current
task; older Pythons fall back to `wait_for`. Either way a timeout raises
`asyncio.TimeoutError`.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

if sys.version_info >= (3, 11):

    async def within(seconds: float, awaitable: Awaitable[T]) -> T:
        async with asyncio.timeout(seconds):
            return await awaitable

else:  # pragma: no cover - exercised only on Python 3.10

    async def within(seconds: float, awaitable: Awaitable[T]) -> T:
        return await asyncio.wait_for(awaitable, seconds)
