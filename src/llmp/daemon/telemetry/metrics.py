"""Prometheus metrics for `GET /metrics`, in a registry of this daemon's own.

A per-runtime `CollectorRegistry` (not the library's global one) keeps two
gateways in one process, as the tests run them, from adding up each other's
numbers.

The five families every finished request feeds (requests, duration, time to
first token, tokens, cost) are plain numbers on one `_Series` per
(provider, model): a label child's `inc()`/`observe()` takes a lock and
checks itself each time, which cost several microseconds per request on the
event loop. `_SeriesCollector` turns the numbers into the same families, with
the same names, help, labels and buckets, only when `/metrics` is scraped.
Everything else is counted rarely (on failures, state changes and health
probes) and stays an ordinary prometheus_client metric.

Retries (the same deployment again) and fallbacks (another deployment) are
read from the attempts the router records on `RequestContext.tried`. The
runtime subscribes two more reports to what only routing sees:

* `record_circuit_transition(breaker, old, new)` when a circuit breaker
  (a provider, or a `provider/model` deployment) changes state;
* `record_health_check(provider, seconds, ok)` after each health probe.

(`/admin/stats` and `llmp status --watch` read the routing's own health report
instead, the one `llmp providers health` reads, so the two views agree.)
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable
from itertools import accumulate, pairwise

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import metrics as prometheus_metrics
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from llmp.daemon.telemetry.record import Finished
from llmp.daemon.telemetry.sink_health import HEALTH as SINK_HEALTH

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
HEALTH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CIRCUIT_STATES = ("closed", "half_open", "open")
NONE = "none"  # the label of a request that never reached a provider (unknown model, bad input)
CONTENT_TYPE = CONTENT_TYPE_LATEST
STATUS_CLASSES = ("2xx", "4xx", "5xx")
MAX_LABEL_VALUES = 1000  # distinct models (or routes, or deployment circuits) one label tells apart
OTHER = "other"  # the label value of everything past that
SERIES_LABELS = ("provider", "model")


class _Series:
    """What the requests of one (provider, model) added up to, as plain numbers.

    Histograms keep one count per bucket, the last one for values above every
    bound (+Inf); the collector makes them cumulative. `created` stands for
    the `_created` sample a label child would have had.
    """

    __slots__ = ("cached", "cost", "created", "duration", "duration_sum", "requests",
                 "tokens_in", "tokens_out", "ttft", "ttft_sum")

    def __init__(self) -> None:
        self.requests = [0, 0, 0]  # by STATUS_CLASSES
        self.duration = [0] * (len(LATENCY_BUCKETS) + 1)
        self.duration_sum = 0.0
        self.ttft = [0] * (len(TTFT_BUCKETS) + 1)
        self.ttft_sum = 0.0
        self.tokens_in = 0
        self.tokens_out = 0
        self.cached = 0
        self.cost = 0.0
        self.created = time.time()


class _SeriesCollector:
    """Renders every `_Series` as the families label children used to produce.

    No lock: series change only on the event loop (`Metrics.request_finished`)
    and `/metrics` is served on that same loop, so a scrape never sees one
    half updated.
    """

    def __init__(self, series: dict[tuple[str, str], _Series]) -> None:
        self._series = series

    def describe(self) -> list[Metric]:
        """The families without samples: the registry checks names without collecting."""
        return self._families()

    def collect(self) -> list[Metric]:
        requests, duration, ttft, tokens, cost = families = self._families()
        use_created = prometheus_metrics._use_created  # honour disable_created_metrics() as children do
        for (provider, model), series in self._series.items():
            labels = [provider, model]
            created = series.created if use_created else None
            for status_class, count in zip(STATUS_CLASSES, series.requests, strict=True):
                requests.add_metric([provider, model, status_class], count, created)
            _add_histogram(duration, labels, _LATENCY_LE, series.duration, series.duration_sum, created)
            _add_histogram(ttft, labels, _TTFT_LE, series.ttft, series.ttft_sum, created)
            tokens.add_metric([provider, model, "input"], series.tokens_in, created)
            tokens.add_metric([provider, model, "output"], series.tokens_out, created)
            tokens.add_metric([provider, model, "cached_input"], series.cached, created)
            cost.add_metric(labels, series.cost, created)
        return families

    @staticmethod
    def _families() -> list[Metric]:
        return [
            CounterMetricFamily(
                "llmp_requests", "Requests answered, by provider, model and HTTP status class.",
                labels=[*SERIES_LABELS, "status_class"]),
            HistogramMetricFamily(
                "llmp_request_duration_seconds", "Time from request to the last byte of the answer.",
                labels=SERIES_LABELS),
            HistogramMetricFamily(
                "llmp_time_to_first_token_seconds", "Time from request to the first byte of the answer.",
                labels=SERIES_LABELS),
            CounterMetricFamily(
                "llmp_tokens", "Tokens by direction (input, output, cached_input), as providers report.",
                labels=[*SERIES_LABELS, "direction"]),
            CounterMetricFamily(
                "llmp_cost_usd", "Cost in US dollars from the price table.", labels=SERIES_LABELS),
        ]


def _le(bounds: tuple[float, ...]) -> tuple[str, ...]:
    """The `le` label values of a histogram's buckets, +Inf last, spelled as the library does."""
    return (*map(floatToGoString, bounds), "+Inf")


_LATENCY_LE = _le(LATENCY_BUCKETS)
_TTFT_LE = _le(TTFT_BUCKETS)


def _add_histogram(family: HistogramMetricFamily, labels: list[str], le: tuple[str, ...],
                   counts: list[int], total: float, created: float | None) -> None:
    family.add_metric(labels, list(zip(le, accumulate(counts), strict=True)), total)
    if created is not None:  # HistogramMetricFamily has no `created`; a child puts it last
        family.samples.append(Sample(family.name + "_created", dict(zip(SERIES_LABELS, labels, strict=True)),
                                     created))


class _LabelValues:
    """The values one label has taken so far, up to a limit; later ones count as `OTHER`.

    Model names reach labels from clients (`provider/any-name`, or any name at
    a provider serving "*"): a series for each would grow the daemon's memory,
    and every scrape, without bound.
    """

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) >= MAX_LABEL_VALUES:
            return OTHER
        self._seen.add(value)
        return value


class Metrics:
    def __init__(self, in_flight: Callable[[], float] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self._series: dict[tuple[str, str], _Series] = {}
        r.register(_SeriesCollector(self._series))  # first, so its families come first as before
        self.in_flight = Gauge("llmp_requests_in_flight", "Requests being served now.", registry=r)
        if in_flight is not None:
            self.in_flight.set_function(in_flight)
        self.retries = Counter(
            "llmp_retries", "Attempts repeated on the same deployment, by the model or alias asked for.",
            ["route"], registry=r)
        self.fallbacks = Counter(
            "llmp_fallbacks", "Requests moved from one provider to another.",
            ["route", "from_provider", "to_provider"], registry=r)
        self.circuit_state = Gauge(
            "llmp_circuit_state", "1 for the state each provider's circuit is in.",
            ["provider", "state"], registry=r)
        self.circuit_transitions = Counter(
            "llmp_circuit_transitions", "Circuit breaker state changes.",
            ["provider", "from_state", "to_state"], registry=r)
        self.health_latency = Histogram(
            "llmp_health_check_duration_seconds", "Health probe latency by provider and outcome.",
            ["provider", "outcome"], buckets=HEALTH_BUCKETS, registry=r)
        self.provider_up = Gauge(
            "llmp_provider_up", "1 if the last health check passed, 0 if it failed.",
            ["provider"], registry=r)
        r.register(SINK_HEALTH)  # llmp_telemetry_dropped_total
        self.cache_requests = Counter(
            "llmp_cache_requests", "Requests the response cache took part in, by result.",
            ["result"], registry=r)
        self.connections_refused = Counter(
            "llmp_connections_refused", "Client connections refused past server.limits.max_connections.",
            registry=r)
        #: One child per result, labelled once: `.labels()` per request cost a miss a lookup
        #: under a lock, and every result shows (at 0) before it first happens.
        self._cache_results = {result: self.cache_requests.labels(result)
                               for result in ("hit", "miss", "refresh", "bypass")}
        self.cache_bytes = Gauge(
            "llmp_cache_bytes", "Bytes the response cache's entries take on disk.", registry=r)
        self._models = _LabelValues()
        self._routes = _LabelValues()
        self._deployments = _LabelValues()

    def request_finished(self, record: Finished, tried: list[tuple[str, str]]) -> None:
        """Count one finished request: plain arithmetic, run on the event loop for every request.

        `tried` is the (provider, model) of each attempt, in order: a repeat is
        a retry, a change a fallback.
        """
        key = (record.provider or NONE, record.model or NONE)
        series = self._series.get(key)
        if series is None:  # a new model, or one counted as OTHER
            key = (key[0], self._models(key[1]))
            series = self._series.get(key) or self._series.setdefault(key, _Series())
        status = record.status
        series.requests[0 if status < 400 else 2 if status >= 500 else 1] += 1
        latency = record.latency
        series.duration[bisect_left(LATENCY_BUCKETS, latency)] += 1  # le: a bound counts as inside
        series.duration_sum += latency
        ttfb = record.ttfb
        if ttfb is not None:
            series.ttft[bisect_left(TTFT_BUCKETS, ttfb)] += 1
            series.ttft_sum += ttfb
        tokens = record.tokens
        if tokens is not None:
            series.tokens_in += tokens.input
            series.tokens_out += tokens.output
            series.cached += tokens.cached
        if record.cost:
            series.cost += record.cost
        if record.cache is not None:
            self._cache_results[record.cache].inc()
        if len(tried) < 2:  # most requests: one attempt, nothing retried or moved
            return
        route = self._routes(record.alias or record.requested_model)
        for before, after in pairwise(tried):
            if before == after:  # the same deployment again: a retry
                self.retries.labels(route).inc()
            else:
                self.record_fallback(route, before[0], after[0])

    # -- reported by routing -------------------------------------------------

    def record_fallback(self, route: str, from_provider: str, to_provider: str) -> None:
        self.fallbacks.labels(route, from_provider, to_provider).inc()

    def record_circuit_transition(self, provider: str, old: str, new: str) -> None:
        """`provider` names the circuit: a provider, or a deployment (`provider/model`)."""
        if "/" in provider:  # a deployment: its model may be any name a client sent
            provider = self._deployments(provider)
        self.circuit_transitions.labels(provider, old, new).inc()
        for state in CIRCUIT_STATES:
            self.circuit_state.labels(provider, state).set(1 if state == new else 0)

    def record_health_check(self, provider: str, seconds: float, ok: bool) -> None:
        self.health_latency.labels(provider, "ok" if ok else "fail").observe(seconds)
        self.provider_up.labels(provider).set(1 if ok else 0)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
