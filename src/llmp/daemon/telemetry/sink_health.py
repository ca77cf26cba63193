"""What the telemetry writers could not write: counted per sink, and said once.

A sink (the log file, the usage ledger) can fail for reasons outside the
daemon: a full disk, a read-only or deleted folder. Serving must go on, so a
failing sink drops what it cannot write and counts it here; the first failure
is said once on the daemon's own output (`daemon.out`), and once more when the
sink writes again. `/metrics` (`llmp_telemetry_dropped_total`) and
`llmp status` read the same numbers.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable

SINKS = ("log", "ledger", "queue")


class SinkHealth:
    """Dropped counts per sink, and the reason each failing sink gives right now."""

    def __init__(self, say: Callable[[str], None] | None = None) -> None:
        self.dropped: dict[str, int] = dict.fromkeys(SINKS, 0)
        self.failing: dict[str, str] = {}
        self._lock = threading.Lock()  # writers are threads of their own
        self._say = say or _to_stderr

    def drop(self, sink: str, count: int, reason: str | None = None) -> None:
        """`count` items of `sink` are lost; with a `reason`, the sink is failing (said once)."""
        with self._lock:
            self.dropped[sink] = self.dropped.get(sink, 0) + count
            first = reason is not None and sink not in self.failing
            if first:
                self.failing[sink] = reason  # type: ignore[assignment]
        if first:
            self._say(f"llmp: telemetry: the {sink} cannot be written ({reason}); dropping and "
                      "counting what it misses (llmp_telemetry_dropped_total) until it can again")

    def recovered(self, sink: str) -> None:
        """The sink wrote again: say so once, keep the count."""
        if sink not in self.failing:  # the usual case: no lock taken
            return
        with self._lock:
            was = self.failing.pop(sink, None)
            dropped = self.dropped.get(sink, 0)
        if was is not None:
            self._say(f"llmp: telemetry: the {sink} is written again ({dropped} dropped so far)")

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {"dropped": dict(self.dropped), "failing": dict(self.failing)}


def _to_stderr(line: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # stderr itself may be on the full disk, or closed
        print(line, file=sys.stderr, flush=True)


#: The daemon's one record of it: writers are process-wide, like the log file they write.
HEALTH = SinkHealth()
