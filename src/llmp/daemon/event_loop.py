"""The daemon's event loop: uvloop when it is installed (llmp's `speed` extra), else asyncio's own.

uvloop serves the same requests for less CPU (`benchmarks/bench_proxy.py
--loop uvloop` measures both). It does not install everywhere (not on
Windows), and the daemon keeps its CPU budget on the stock loop too, so it
stays an extra.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:
        uvloop = None
    # Run outside the `except`: inside it, the ImportError would become the context of
    # every exception the daemon later logs with its traceback.
    if uvloop is None:
        return asyncio.run(main)
    return uvloop.run(main)
