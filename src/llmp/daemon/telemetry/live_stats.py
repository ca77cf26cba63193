"""The numbers `llmp status --watch` and the dashboard show: rate, errors, latency, the last requests.

Kept in memory over a sliding window so `/admin/stats` answers without the
ledger; the clock is injectable so the window can be tested without waiting.
The last `JOURNAL` finished requests are kept as the records the settler
thread already made (references, with the attempts they made), so the
dashboard can list and open them without the request path doing anything more.
"""

from __future__ import annotations

import time
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
        # (when, latency, failed, time to first byte)
        self._samples: deque[tuple[float, float, bool, float | None]] = deque(maxlen=MAX_SAMPLES)
        self.journal: deque[Journaled] = deque(maxlen=JOURNAL)  # made into dicts only when asked for
        self.finished = 0  # requests ever journaled: tells a reader which ones are new

    def request_finished(self, record: Finished, tried: Sequence[tuple[str, str]] = ()) -> None:
        self._samples.append((self._clock(), record.latency, record.status >= 400, record.ttfb))
        self.journal.append((record, tried))
        self.finished += 1

    def snapshot(self) -> dict[str, Any]:
        now = self._clock()
        horizon = now - self.window
        while self._samples and self._samples[0][0] < horizon:
            self._samples.popleft()
        latencies = sorted(sample[1] for sample in self._samples)
        errors = sum(1 for sample in self._samples if sample[2])
        first_bytes = sorted(sample[3] for sample in self._samples if sample[3] is not None)
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
