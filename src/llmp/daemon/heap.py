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
"""

from __future__ import annotations

import gc
import sys

YOUNG_THRESHOLD = 20_000  # allocations between young-generation passes (default 700)
OLDER_THRESHOLDS = (20, 20)  # young passes per middle pass, middle per full (default 10, 10)


def settle_heap() -> None:
    """Call once the daemon has started: what exists now lives as long as the process."""
    gc.collect()
    release_free_memory()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)


def release_free_memory() -> None:
    """Give back to the system the pages start-up allocated and freed again (parsing the
    config, building the schema): glibc keeps them otherwise, and an idle daemon would hold
    them for its whole life. About 0.7 MiB; elsewhere (macOS, Windows, musl) nothing to do."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # no glibc: no malloc_trim
        pass
