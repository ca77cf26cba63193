"""A module the daemon imports on first use, by a request, without stalling the event loop.

What few daemons ever need (prometheus_client for `/metrics`, the OpenAPI
document) is not imported at start; the first request that needs it imports it
on a worker thread, since an import can take milliseconds, and every later one
finds it loaded.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from types import ModuleType


async def loaded(name: str) -> ModuleType:
    """The module `name`, imported off the loop the first time it is asked for."""
    module = sys.modules.get(name)
    if module is None:
        module = await asyncio.to_thread(importlib.import_module, name)
    return module
