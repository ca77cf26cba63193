"""Taking work off a queue in batches, for the writer threads (usage ledger, response cache)."""

from __future__ import annotations

import queue
import threading
from typing import Any


def gather(items: queue.SimpleQueue[Any], wake: threading.Event, wait: float) -> list[Any]:
    """Block for one item, let more gather for up to `wait` seconds, and take them all.

    Waking per item would cost the event loop a GIL hand-over each time; `wake`
    (set by a flush or a close) cuts the wait short.
    """
    batch = [items.get()]
    wake.wait(wait)
    wake.clear()
    while True:
        try:
            batch.append(items.get(block=False))
        except queue.Empty:
            return batch
