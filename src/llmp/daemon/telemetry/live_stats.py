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
_RECENT_FIELDS = ("ts", "request_id", "model", "provider", "status", "error_class", "latency_ms",
                  "ttft_ms", "tokens_in", "tokens_out", "cost", "streamed")


class LiveStats:
    def __init__(self, clock: Callable[[], float] = time.monotonic, window: float = WINDOW) -> None:
        self._clock = clock
        self.window = window
        self.started = clock()
        self._samples: deque[tuple[float, float, bool]] = deque(maxlen=MAX_SAMPLES)
        # The last requests as tuples (`_RECENT_FIELDS`): made into dicts only when asked for.
        self.recent: deque[tuple[Any, ...]] = deque(maxlen=RECENT)

    def request_finished(self, ctx: RequestContext, tokens: Tokens | None, cost: float | None) -> None:
        latency = ctx.latency
        self._samples.append((self._clock(), latency or 0.0, ctx.status >= 400))
        self.recent.append((
            time.time(), ctx.request_id, ctx.requested_model, ctx.provider, ctx.status,
            ctx.error_kind, _ms(latency), _ms(ctx.time_to_first_byte),
            tokens.input if tokens else None, tokens.output if tokens else None, cost, ctx.stream,
        ))

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
            "recent": [dict(zip(_RECENT_FIELDS, entry, strict=True)) for entry in reversed(self.recent)],
        }


def _percentile(ordered: list[float], share: float) -> float | None:
    """Nearest-rank percentile: an observed value, never an interpolation."""
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)
