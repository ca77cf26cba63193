"""Garbage-collector settings for the long-running daemon process.

Start-up (imports, the config's pydantic models, the application) allocates
hundreds of thousands of objects that live as long as the process; the cyclic
collector, left on, walks them again and again while they are made (some tens
of milliseconds of `llmp start`), and finds next to nothing to free. So the
collector is off from the daemon's first line (`daemon/main.py`) until it
listens, when what exists is frozen (`start_serving`): taken out of every later
pass. The one full pass that finds start-up's garbage in cycles, and the trim
that gives its pages back, wait until the daemon is up and no request is being
served (`keep_heap_settled`), off the path to ready.

Each request allocates a few hundred short-lived containers (dicts, tuples,
coroutines) that reference counting frees at once, yet the cyclic collector's
default threshold (700 allocations) still runs a young-generation pass every
couple of requests, and every tenth or hundredth time an older pass that walks
everything not frozen. A higher young threshold runs passes less often; real
cycles are still collected. Measured in benchmarks/bench_proxy.py: about 5%
less CPU per request.

The price of rare full passes: garbage in cycles (an exception, its traceback
and the frames holding a request's buffers) waits for one, the heap grows to
hold it, and glibc keeps the freed pages scattered through the heap. So a full
pass and a trim run when traffic pauses after requests were served, and every
`SETTLE_EVERY` seconds under steady traffic: garbage lives seconds, and its
pages go back to the system (benchmarks/bench_soak.py: resident memory flat
over 100,000 requests). Its price: a pass over the objects not frozen, some
tens of milliseconds at most every `SETTLE_EVERY` seconds of steady traffic.
An idle daemon never wakes for it: the first request that finishes does.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Callable

YOUNG_THRESHOLD = 20_000  # allocations between young-generation passes (default 700)
OLDER_THRESHOLDS = (20, 20)  # young passes per middle pass, middle per full (default 10, 10)
SETTLE_EVERY = 10.0  # seconds of steady traffic between two full passes and trims
LOOK_EVERY = 0.5  # seconds between two looks for a pause in traffic


def start_serving() -> None:
    """Call once the daemon listens: what exists now lives as long as the process, so it is kept
    out of every later pass (start-up's garbage with it, until `settle_heap` runs)."""
    gc.freeze()
    _collect_rarely()


def settle_heap() -> None:
    """Call once start-up is over (the daemon listens, no request in flight): one full pass,
    frozen objects included, finds start-up's garbage; its pages go back to the system, and what
    is left is frozen again."""
    gc.unfreeze()
    _collect_and_trim()
    gc.freeze()
    _collect_rarely()


def _collect_rarely() -> None:
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
    gc.enable()


def _collect_and_trim() -> None:
    gc.collect()
    release_free_memory()


class RequestsFinished:
    """A request observer (`Runtime.observers`) that wakes `keep_heap_settled`: one flag set
    per request, no timer running while the daemon is idle."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def request_finished(self, ctx: object) -> None:
        self.event.set()


async def keep_heap_settled(finished: RequestsFinished, in_flight: Callable[[], int]) -> None:
    """Run for the daemon's life, from the moment it listens: settle once start-up is over, then
    collect and trim each time requests were served and none is in flight, or every
    `SETTLE_EVERY` seconds if they never stop. In between, wait for a request to finish,
    without polling."""
    settle = settle_heap
    while True:
        waited = 0.0
        while True:
            await asyncio.sleep(LOOK_EVERY)
            waited += LOOK_EVERY
            if in_flight() == 0 or waited >= SETTLE_EVERY:
                break
        finished.event.clear()
        settle()
        settle = _collect_and_trim
        await finished.event.wait()


def release_free_memory() -> None:
    """Give back to the system the pages allocated and freed again since (start-up parsing
    the config and building the schema, a burst of requests): glibc keeps them otherwise,
    and an idle daemon would hold them for its whole life (after start-up about 0.7 MiB,
    after a burst megabytes). Elsewhere (macOS, Windows, musl) nothing to do."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # no glibc: no malloc_trim
        pass
