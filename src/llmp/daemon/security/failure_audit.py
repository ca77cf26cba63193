"""Auditing failed authentication without letting it fill the disk.

Anyone who can reach the daemon can fail to authenticate as often as they
like, so failures are written at most `limit` a minute; the rest are counted
and summed up in one `auth_failed_suppressed` line when the next minute starts.
Events that matter more (keys set, reloads) are never throttled.
"""

from __future__ import annotations

import time
from typing import Any

from llmp.core.audit import audit
from llmp.daemon.context import Clock

WINDOW = 60.0


class FailureAudit:
    def __init__(self, limit: int = 60, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.clock = clock
        self._window_start = clock()
        self._written = 0
        self._suppressed = 0

    def record(self, **fields: Any) -> None:
        now = self.clock()
        if now - self._window_start >= WINDOW:
            if self._suppressed:
                audit("auth_failed_suppressed", count=self._suppressed, seconds=WINDOW)
            self._window_start, self._written, self._suppressed = now, 0, 0
        if self._written < self.limit:
            self._written += 1
            audit("auth_failed", **fields)
        else:
            self._suppressed += 1
