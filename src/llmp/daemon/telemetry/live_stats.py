"""The numbers `llmp status --watch` shows: rate, errors, latency, the last requests.

Kept in memory over a sliding window so `/admin/stats` answers without the
ledger; the clock is injectable so the window can be tested without waiting.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from llmp.daemon.context import RequestContext
from llmp.daemon.telemetry.usage import Tokens

WINDOW = 60.0  # seconds of history behind the rate, error rate and percentiles
MAX_SAMPLES = 20_000
RECENT = 20


class LiveStats:
    def __init__(self, clock: Callable[[], float] = time.monotonic, window: float = WINDOW) -> None:
        self._clock = clock
        self.window = window
        self.started = clock()
        self._samples: deque[tuple[float, float, bool]] = deque(maxlen=MAX_SAMPLES)
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT)

    def request_finished(self, ctx: RequestContext, tokens: Tokens | None, cost: float | None) -> None:
        now = self._clock()
        self._samples.append((now, ctx.latency or 0.0, ctx.status >= 400))
        self.recent.append({
            "ts": time.time(),
            "request_id": ctx.request_id,
            "model": ctx.requested_model,
            "provider": ctx.provider,
            "status": ctx.status,
            "error_class": ctx.error_kind,
            "latency_ms": _ms(ctx.latency),
            "ttft_ms": _ms(ctx.time_to_first_byte),
            "tokens_in": tokens.input if tokens else None,
            "tokens_out": tokens.output if tokens else None,
            "cost": cost,
            "streamed": ctx.stream,
        })

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
            "latency_p50_ms": _ms(_percentile(latencies, 0.50)),
            "latency_p95_ms": _ms(_percentile(latencies, 0.95)),
            "recent": list(reversed(self.recent)),
        }


def _percentile(ordered: list[float], share: float) -> float | None:
    """Nearest-rank percentile: an observed value, never an interpolation."""
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)
