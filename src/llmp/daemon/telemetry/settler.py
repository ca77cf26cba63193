"""Telemetry off the event loop's hot path: finished requests queue up and are settled in batches.

Working out a request's usage, cost, metrics, live stats, access line and
ledger row on the event loop, between one request and the next, cost several
times what the same code costs run back to back over a batch (measured with
benchmarks/bench_proxy.py): a request's path through the loop leaves little of
the telemetry code and data in the CPU's caches. So the loop only appends the
finished request (a C-level deque append); a thread settles what has queued
every `SETTLE_INTERVAL`, as one batch (each sink then takes the batch in one
hand-over to its writer thread, not a queue put per request), and whoever is
about to read what telemetry counts (metrics, live stats, the ledger) settles
first, under the same lock, so no reader sees a request as served but not yet
counted.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from llmp.daemon.context import RequestContext

SETTLE_INTERVAL = 0.05  # seconds between batches: bounds how long a finished request waits
log = logging.getLogger("llmp.telemetry")
_LIVE: weakref.WeakSet[Settler] = weakref.WeakSet()


class Settler:
    def __init__(self, settle_batch: Callable[[list[RequestContext]], None],
                 interval: float = SETTLE_INTERVAL) -> None:
        self._settle_batch = settle_batch
        self._interval = interval
        self._pending: deque[RequestContext] = deque()
        self._lock = threading.Lock()  # held while a batch is settled
        self.add = self._pending.append  # the event loop's whole share, once per request
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        _LIVE.add(self)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="llmp-telemetry", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread; what is still queued is settled here."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.settle()

    def settle(self) -> None:
        with self._lock:
            self._settle_pending()

    @contextmanager
    def settled(self) -> Iterator[None]:
        """Settle what has queued, then hold off the next batch while the caller reads what
        the batches feed (metrics, live stats)."""
        with self._lock:
            self._settle_pending()
            yield

    def _settle_pending(self) -> None:
        pending = self._pending
        popleft = pending.popleft
        # Not `while pending`: the loop may be adding meanwhile.
        batch = [popleft() for _ in range(len(pending))]
        if not batch:
            return
        try:
            self._settle_batch(batch)
        except Exception:  # a bug here must cost a batch's telemetry, not the thread
            log.exception("telemetry for %d requests failed", len(batch))

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.settle()


def settle_all() -> None:
    """Settle every settler in this process (tests that read the log file in process)."""
    for settler in list(_LIVE):
        settler.settle()
