"""The numbers `llmp status --watch` and the dashboard show: rate, errors, latency, the last requests.

Kept in memory over a sliding window so `/admin/stats` answers without the
ledger; the clock is injectable so the window can be tested without waiting.
The samples behind the window are the last `MAX_SAMPLES` requests, kept as
plain numbers in a ring of arrays (32 bytes a request) rather than tuples of
float objects (about 150): a busy daemon fills the ring once, and then holds
the same memory however long it serves.
The last `JOURNAL` finished requests are kept as the records the settler
thread already made (references, with the attempts they made), so the
dashboard can list and open them without the request path doing anything more.
"""

from __future__ import annotations

import math
import time
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any

from llmp.daemon.telemetry.record import Finished, milliseconds

WINDOW = 60.0  # seconds of history behind the rate, error rate and percentiles
MAX_SAMPLES = 20_000
RECENT = 20
JOURNAL = 500  # finished requests the dashboard can list and open

#: A finished request and the (provider, model) of each attempt it made.
Journaled = tuple[Finished, Sequence[tuple[str, str]]]


class LiveStats:
    def __init__(self, clock: Callable[[], float] = time.monotonic, window: float = WINDOW) -> None:
        self._clock = clock
        self.window = window
        self.started = clock()
        self._samples = _Samples(MAX_SAMPLES)
        self.journal: deque[Journaled] = deque(maxlen=JOURNAL)  # made into dicts only when asked for
        self.finished = 0  # requests ever journaled: tells a reader which ones are new

    def request_finished(self, record: Finished, tried: Sequence[tuple[str, str]] = ()) -> None:
        self._samples.add(self._clock(), record.latency, record.status >= 400, record.ttfb)
        self.journal.append((record, tried))
        self.finished += 1

    def snapshot(self) -> dict[str, Any]:
        now = self._clock()
        latencies, errors, first_bytes = self._samples.since(now - self.window)
        latencies.sort()
        first_bytes.sort()
        span = min(self.window, max(now - self.started, 1e-9))
        count = len(latencies)
        return {
            "window_s": self.window,
            "requests_in_window": count,
            "rps": round(count / span, 3),
            "error_rate": round(errors / count, 4) if count else 0.0,
            "latency_p50_ms": milliseconds(percentile(latencies, 0.50)),
            "latency_p95_ms": milliseconds(percentile(latencies, 0.95)),
            "ttft_p50_ms": milliseconds(percentile(first_bytes, 0.50)),
            "recent": [recent(record) for record, _ in islice(reversed(self.journal), RECENT)],
        }


class _Samples:
    """The last `capacity` requests' (when, latency, failed, time to first byte), as columns of
    numbers; once full, each new request takes the place of the oldest. Order is not kept: a
    window's count, errors and percentiles do not need it."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._when = array("d")
        self._latency = array("d")
        self._first_byte = array("d")  # NaN: no first byte
        self._failed = bytearray()
        self._next = 0  # the oldest, overwritten next once full

    def add(self, when: float, latency: float, failed: bool, first_byte: float | None) -> None:
        if first_byte is None:
            first_byte = math.nan
        if len(self._failed) < self._capacity:
            self._when.append(when)
            self._latency.append(latency)
            self._first_byte.append(first_byte)
            self._failed.append(failed)
            return
        at = self._next
        self._when[at] = when
        self._latency[at] = latency
        self._first_byte[at] = first_byte
        self._failed[at] = failed
        self._next = at + 1 if at + 1 < self._capacity else 0

    def since(self, horizon: float) -> tuple[list[float], int, list[float]]:
        """The latencies, the number failed and the times to first byte of the requests since
        `horizon`."""
        latencies: list[float] = []
        first_bytes: list[float] = []
        errors = 0
        for when, latency, failed, first_byte in zip(
                self._when, self._latency, self._failed, self._first_byte, strict=True):
            if when >= horizon:
                latencies.append(latency)
                errors += failed
                if first_byte == first_byte:  # not NaN
                    first_bytes.append(first_byte)
        return latencies, errors, first_bytes


def recent(record: Finished) -> dict[str, Any]:
    """A finished request as one line of a list (`llmp status --watch`, the dashboard)."""
    tokens = record.tokens
    return {
        "ts": record.started + record.latency,
        "request_id": record.request_id,
        "model": record.requested_model,
        "alias": record.alias,
        "client": record.client_key,
        "provider": record.provider,
        "served_model": record.model,
        "attempts": record.attempts,
        "status": record.status,
        "error_class": record.error_kind,
        "latency_ms": milliseconds(record.latency),
        "ttft_ms": milliseconds(record.ttfb),
        "tokens_in": tokens.input if tokens else None,
        "tokens_out": tokens.output if tokens else None,
        "cost": record.cost,
        "streamed": record.stream,
    }


def percentile(ordered: list[float], share: float) -> float | None:
    """Nearest-rank percentile: an observed value, never an interpolation."""
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]
