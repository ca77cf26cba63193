"""Garbage-collector settings for the long-running daemon process.

Each request allocates a few hundred short-lived containers (dicts, tuples,
coroutines) that reference counting frees at once, yet the cyclic collector's
default threshold (700 allocations) still runs a young-generation pass every
couple of requests, and every tenth or hundredth time an older pass that walks
everything the daemon has held since it started (config, modules, price
table). Freezing what exists once the daemon is up takes those objects out of
every later pass, and a higher young threshold runs passes less often; real
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


def settle_heap() -> None:
    """Call once the daemon has started: what exists now lives as long as the process."""
    gc.collect()
    release_free_memory()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)


async def keep_heap_settled(served: Callable[[], int], in_flight: Callable[[], int]) -> None:
    """Run for the daemon's life: settle once requests were served (`served`: how many so far)
    and none is in flight, or every `SETTLE_EVERY` seconds if they never stop; a daemon with
    nothing served since its last settling only looks."""
    settled, waited = served(), 0.0
    while True:
        await asyncio.sleep(LOOK_EVERY)
        waited += LOOK_EVERY
        if served() != settled and (in_flight() == 0 or waited >= SETTLE_EVERY):
            settled, waited = served(), 0.0
            gc.collect()
            release_free_memory()


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
