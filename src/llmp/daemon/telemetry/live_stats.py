"""The numbers `llmp status --watch` shows: rate, errors, latency, the last requests.

Kept in memory over a sliding window so `/admin/stats` answers without the
ledger; the clock is injectable so the window can be tested without waiting.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from llmp.daemon.telemetry.record import Finished, milliseconds

WINDOW = 60.0  # seconds of history behind the rate, error rate and percentiles
MAX_SAMPLES = 20_000
RECENT = 20


class LiveStats:
    def __init__(self, clock: Callable[[], float] = time.monotonic, window: float = WINDOW) -> None:
        self._clock = clock
        self.window = window
        self.started = clock()
        self._samples: deque[tuple[float, float, bool]] = deque(maxlen=MAX_SAMPLES)
        self.recent: deque[Finished] = deque(maxlen=RECENT)  # made into dicts only when asked for

    def request_finished(self, record: Finished) -> None:
        self._samples.append((self._clock(), record.latency, record.status >= 400))
        self.recent.append(record)

    def snapshot(self) -> dict[str, Any]:
        now = self._clock()
        horizon = now - self.window
        while self._samples and self._samples[0][0] < horizon:
            self._samples.popleft()
        latencies = sorted(sample[1] for sample in self._samples)
        errors = sum(1 for sample in self._samples if sample[2])
        span = min(self.window, max(now - self.started, 1e-9))
        count = len(latencies)
        return {
            "window_s": self.window,
            "requests_in_window": count,
            "rps": round(count / span, 3),
            "error_rate": round(errors / count, 4) if count else 0.0,
            "latency_p50_ms": milliseconds(_percentile(latencies, 0.50)),
            "latency_p95_ms": milliseconds(_percentile(latencies, 0.95)),
            "recent": [_recent(record) for record in reversed(self.recent)],
        }


def _recent(record: Finished) -> dict[str, Any]:
    tokens = record.tokens
    return {
        "ts": record.started + record.latency,
        "request_id": record.request_id,
        "model": record.requested_model,
        "provider": record.provider,
        "status": record.status,
        "error_class": record.error_kind,
        "latency_ms": milliseconds(record.latency),
        "ttft_ms": milliseconds(record.ttfb),
        "tokens_in": tokens.input if tokens else None,
        "tokens_out": tokens.output if tokens else None,
        "cost": record.cost,
        "streamed": record.stream,
    }


def _percentile(ordered: list[float], share: float) -> float | None:
    """Nearest-rank percentile: an observed value, never an interpolation."""
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]
