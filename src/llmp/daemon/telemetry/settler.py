"""The daemon's one telemetry thread: finished requests queue up on the loop, and are counted
and written in batches.

Working out a request's usage, cost, metrics, live stats, access line and
ledger row on the event loop, between one request and the next, cost several
times what the same code costs run back to back over a batch (measured with
benchmarks/bench_proxy.py): a request's path through the loop leaves little of
the telemetry code and data in the CPU's caches. So the loop only appends the
finished request to a bounded queue; every `SETTLE_INTERVAL` one thread takes
what has queued as one batch and makes a pass over it: it counts it (usage,
cost, metrics, live stats: the records), then writes the records (access
lines, ledger rows). One thread rather than one per sink: each hand-over
between threads costs a wake-up and GIL hand-overs with the event loop, which
cost the loop more than the writing itself.

An idle daemon's thread sleeps until there is work: the request that finds
the queue empty wakes it (one event set per batch, not per request), and
otherwise it wakes only when the writer asked for another pass at a given
time (the ledger's rows held for their commit). Waking every interval to find
nothing cost an idle daemon twenty wake-ups a second.

Whoever is about to read what the counting feeds (metrics, live stats) counts
what has queued first, under the same lock, so no reader sees a request as
served but not yet counted; readers never write, so a slow disk never holds
up the event loop's `/metrics`. Records are written in the order they were
counted, whichever thread counted them.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from llmp.daemon.context import RequestContext
from llmp.daemon.telemetry.record import Finished
from llmp.daemon.telemetry.sink_health import HEALTH

SETTLE_INTERVAL = 0.05  # seconds a woken thread lets requests gather: how long a finished one waits
#: Finished requests waiting for the thread. Past it (a thread stalled on a hung disk) requests
#: are dropped and counted: each one holds its bodies, and memory must not grow instead.
MAX_PENDING = 10_000
log = logging.getLogger("llmp.telemetry")
_LIVE: weakref.WeakSet[Settler] = weakref.WeakSet()


class Settler:
    def __init__(self, count: Callable[[list[RequestContext]], list[Finished]],
                 write: Callable[[list[Finished]], float | None], interval: float = SETTLE_INTERVAL,
                 limit: int = MAX_PENDING) -> None:
        self._count = count  # requests -> records, feeding metrics and live stats: no disk
        #: records -> the log file and the ledger, in order; called every pass. It returns the
        #: seconds after which it wants a pass even if nothing new has come (None: no need).
        self._write = write
        self._interval = interval
        self._limit = limit
        self._pending: deque[RequestContext] = deque()
        self._counted: list[Finished] = []  # counted, not written yet
        self._lock = threading.Lock()  # held while counting, and by readers of what it feeds
        self._writing = threading.Lock()  # held while writing: one writer at a time, in order
        self._wake = threading.Event()  # set by a request that finds the queue empty, and by close
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        _LIVE.add(self)

    def add(self, ctx: RequestContext) -> None:
        """The event loop's whole share, once per request: an append, and a wake-up for the first
        request of a batch."""
        pending = self._pending
        waiting = len(pending)
        if waiting < self._limit:
            pending.append(ctx)
            if not waiting:
                self._wake.set()
        else:
            HEALTH.drop("queue", 1, f"more than {self._limit} finished requests waiting")

    def nudge(self) -> None:
        """Have the thread make a pass soon though no request finished (something else was
        handed to a writer: stored bodies)."""
        if not self._wake.is_set():
            self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="llmp-telemetry", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread; what is still queued is counted and written here."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.settle()

    def settle(self) -> float | None:
        """Count what has queued and write everything counted (the thread's pass; tests, shutdown);
        the seconds after which the writer wants another pass, None if it needs none."""
        again = None
        with self._writing:
            with self._lock:
                self._count_pending()
                records, self._counted = self._counted, []
            try:
                again = self._write(records)
            except Exception:  # a bug here must cost a batch's telemetry, not the thread
                log.exception("writing telemetry for %d requests failed", len(records))
        HEALTH.recovered("queue")  # whatever was dropped, this pass took everything waiting
        return again

    @contextmanager
    def settled(self) -> Iterator[None]:
        """Count what has queued, then hold off the next count while the caller reads what
        counting feeds (metrics, live stats)."""
        with self._lock:
            self._count_pending()
            yield

    def _count_pending(self) -> None:
        pending = self._pending
        popleft = pending.popleft
        # Not `while pending`: the loop may be adding meanwhile.
        batch = [popleft() for _ in range(len(pending))]
        if not batch:
            return
        try:
            self._counted += self._count(batch)
        except Exception:  # a bug here must cost a batch's telemetry, not the thread
            log.exception("telemetry for %d requests failed", len(batch))

    def _run(self) -> None:
        """Pass after pass while requests keep finishing; between bursts, sleep until a request
        finishes (or the writer's time comes)."""
        again = self.settle()
        while not self._stop.is_set():
            # A request added while the last pass was taking the queue may have found it not
            # empty, and woken nobody: it is still waiting, so no sleep.
            if not self._pending and not self._wake.wait(again):
                again = self.settle()  # the writer's time came, with nothing new
                continue
            self._wake.clear()
            self._stop.wait(self._interval)  # let the rest of the batch gather
            again = self.settle()


def settle_all() -> None:
    """Settle every settler in this process (tests that read the log file in process)."""
    for settler in list(_LIVE):
        settler.settle()
