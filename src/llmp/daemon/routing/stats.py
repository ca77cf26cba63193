"""Live numbers per deployment and per provider, for strategies and for `llmp providers health`.

Requests and failures over the last five minutes are counted in minute
buckets (exact counts for the error rate, a few numbers per deployment); the
latest `MAX_SAMPLES` requests within that window give the percentiles. A
deployment's memory is thus the same whether it served ten requests or ten
million, which matters as a client may make up a thousand deployments. An
exponential moving average of latency (time to first token for streams) is
what the lowest-latency strategy compares, at no cost per request.
"""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from llmp.core.keys import mask
from llmp.daemon.routing.clock import Clock

# Anything that could be a credential: a bearer value, or a long token with a long
# run of mixed letters and digits (keys have one; model names and dates do not).
_SECRET = re.compile(r"(?i)(?<=bearer )\S+|\b[\w-]*(?=[a-z]*\d)(?=\d*[a-z])[a-z\d]{16,}[\w-]*")
WINDOW = 300.0
MAX_SAMPLES = 512  # latest requests a deployment keeps for its percentiles
BUCKET = 60.0  # seconds counted together in `Stats.counts`
EWMA_WEIGHT = 0.3


# One request: (monotonic time it ended, ok, latency, time to first token). A plain tuple:
# two are made per request, and a class of its own would cost a constructor call each.
Sample = tuple[float, bool, float | None, float | None]


@dataclass
class Stats:
    in_flight: int = 0
    requests: int = 0
    ewma: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None  # wall time
    last_checked: float | None = None  # wall time of the last health check
    last_check_ok: bool | None = None
    check_latency: float | None = None
    samples: deque[Sample] = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES))
    #: [when the bucket began, requests, failed], newest last: enough buckets for the window.
    counts: deque[list[float]] = field(
        default_factory=lambda: deque(maxlen=int(WINDOW // BUCKET) + 1))

    def record(self, now: float, ok: bool, latency: float | None = None,
               ttft: float | None = None, error: str | None = None) -> None:
        self.requests += 1
        self.samples.append((now, ok, latency, ttft))
        counts = self.counts
        if not counts or counts[-1][0] <= now - BUCKET:
            counts.append([now, 0, 0])
        bucket = counts[-1]
        bucket[1] += 1
        if not ok:
            bucket[2] += 1
        speed = ttft if ttft is not None else latency
        if ok and speed is not None:
            self.ewma = speed if self.ewma is None else self.ewma + EWMA_WEIGHT * (speed - self.ewma)
        if error is not None:
            self.note_error(error)

    def note_error(self, error: str) -> None:
        """Keep the last error, with anything key-like masked: upstreams echo keys back."""
        self.last_error = _SECRET.sub(lambda m: mask(m.group(0)), error)[:300]
        self.last_error_at = time.time()

    def checked(self, ok: bool, latency: float, error: str | None) -> None:
        self.last_checked, self.last_check_ok, self.check_latency = time.time(), ok, latency
        if error is not None:
            self.note_error(error)

    def summary(self, now: float) -> dict[str, Any]:
        horizon = now - WINDOW
        while self.samples and self.samples[0][0] < horizon:
            self.samples.popleft()
        recent = list(self.samples)
        latencies = sorted(latency for _, _, latency, _ in recent if latency is not None)
        ttfts = sorted(ttft for _, _, _, ttft in recent if ttft is not None)
        buckets = [bucket for bucket in self.counts if bucket[0] >= horizon]
        requests = int(sum(bucket[1] for bucket in buckets))
        failed = sum(bucket[2] for bucket in buckets)
        return {
            "requests": self.requests,
            "requests_5m": requests,
            "error_rate_5m": round(failed / requests, 4) if requests else None,
            "latency_p50": _percentile(latencies, 0.50),
            "latency_p95": _percentile(latencies, 0.95),
            "ttft_p50": _percentile(ttfts, 0.50),
            "in_flight": self.in_flight,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "last_checked": self.last_checked,
            "last_check_ok": self.last_check_ok,
            "check_latency": _round(self.check_latency),
        }


class StatsBook:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._stats: dict[tuple[str, str | None], Stats] = {}

    def get(self, provider: str, model: str | None = None) -> Stats:
        key = (provider, model)
        stats = self._stats.get(key)
        if stats is None:
            stats = self._stats[key] = Stats()
        return stats

    def deployments(self, provider: str) -> dict[str, Stats]:
        return {m: s for (p, m), s in self._stats.items() if p == provider and m is not None}

    def forget(self, provider: str, model: str) -> None:
        self._stats.pop((provider, model), None)

    def provider_summary(self, provider: str, now: float) -> dict[str, Any]:
        """A provider's figures: its own health checks, plus its deployments' traffic added up.

        Traffic is recorded once, on the deployment that served it (that is on
        every request's path); the provider's share is worked out only when
        someone asks.
        """
        own = self.get(provider)
        deployments = list(self.deployments(provider).values())
        total = Stats(
            in_flight=sum(d.in_flight for d in deployments),
            requests=sum(d.requests for d in deployments),
            last_checked=own.last_checked, last_check_ok=own.last_check_ok,
            check_latency=own.check_latency,
            samples=deque(sorted((sample for d in deployments for sample in d.samples),
                                 key=itemgetter(0))),
            counts=deque(bucket for d in deployments for bucket in d.counts),
        )
        latest = max((own, *deployments), key=lambda stats: stats.last_error_at or 0.0)
        total.last_error, total.last_error_at = latest.last_error, latest.last_error_at
        return total.summary(now)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return _round(values[min(len(values) - 1, int(q * len(values)))])


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
