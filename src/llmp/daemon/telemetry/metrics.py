"""The numbers `GET /metrics` shows, counted as plain Python numbers per daemon.

Nothing here imports prometheus_client: the daemon counts as it serves and
loads the library (about a megabyte, and its HTTP server and WSGI modules
with it) only when `/metrics` is first scraped: `exposition.render` turns
these numbers into the library's metric families, with their names, help,
labels, buckets and `_created` samples.

Each `Metrics` is a runtime's own (two gateways in one process, as the tests
run them, never add up each other's numbers). The five families every
finished request feeds (requests, duration, time to first token, tokens,
cost) live on one `Series` per (provider, model); everything else is
counted rarely (on failures, state changes and health probes) in a
`CounterValues`, `GaugeValues` or `HistogramValues` by label values.

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
from dataclasses import dataclass
from itertools import pairwise

from llmp.daemon.telemetry.record import Finished

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
HEALTH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CIRCUIT_STATES = ("closed", "half_open", "open")
NONE = "none"  # the label of a request that never reached a provider (unknown model, bad input)
STATUS_CLASSES = ("2xx", "4xx", "5xx")
CACHE_RESULTS = ("hit", "miss", "refresh", "bypass")
MAX_LABEL_VALUES = 1000  # distinct models (or routes, or deployment circuits) one label tells apart
OTHER = "other"  # the label value of everything past that
SERIES_LABELS = ("provider", "model")


class Series:
    """What the requests of one (provider, model) added up to, as plain numbers.

    Histograms keep one count per bucket, the last one for values above every
    bound (+Inf); the exposition makes them cumulative. `created` stands for
    the `_created` sample a prometheus_client label child would have had.
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


@dataclass(frozen=True, slots=True)
class Family:
    """A metric family's name as Prometheus shows it (without `_total`), its help and labels."""

    name: str
    help: str
    labels: tuple[str, ...] = ()


class CounterValues:
    """A counter by label values: `[value, created]` per child, a child made on first `inc`."""

    __slots__ = ("children", "family")

    def __init__(self, family: Family, *preset: tuple[str, ...]) -> None:
        self.family = family
        self.children: dict[tuple[str, ...], list[float]] = {}
        for labels in preset or ((),) * (not family.labels):  # an unlabelled counter shows at 0
            self.children[labels] = [0.0, time.time()]

    def inc(self, *labels: str) -> None:
        child = self.children.get(labels)
        if child is None:
            child = self.children[labels] = [0.0, time.time()]
        child[0] += 1


class GaugeValues:
    """A gauge by label values; unlabelled, it shows 0, or what its `function` reads at scrape."""

    __slots__ = ("family", "function", "values")

    def __init__(self, family: Family) -> None:
        self.family = family
        self.values: dict[tuple[str, ...], float] = {} if family.labels else {(): 0.0}
        self.function: Callable[[], float] | None = None

    def set(self, value: float, *labels: str) -> None:
        self.values[labels] = value

    def set_function(self, function: Callable[[], float]) -> None:
        self.function = function


class Observed:
    """One histogram child: a count per bucket (+Inf last), their sum, and when it was made."""

    __slots__ = ("counts", "created", "total")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * buckets
        self.total = 0.0
        self.created = time.time()


class HistogramValues:
    """A histogram by label values."""

    __slots__ = ("bounds", "children", "family")

    def __init__(self, family: Family, bounds: tuple[float, ...]) -> None:
        self.family = family
        self.bounds = bounds
        self.children: dict[tuple[str, ...], Observed] = {}

    def observe(self, value: float, *labels: str) -> None:
        child = self.children.get(labels)
        if child is None:
            child = self.children[labels] = Observed(len(self.bounds) + 1)
        child.counts[bisect_left(self.bounds, value)] += 1  # le: a bound counts as inside
        child.total += value


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
        self.series: dict[tuple[str, str], Series] = {}
        self.in_flight = GaugeValues(Family("llmp_requests_in_flight", "Requests being served now."))
        if in_flight is not None:
            self.in_flight.set_function(in_flight)
        self.retries = CounterValues(Family(
            "llmp_retries", "Attempts repeated on the same deployment, by the model or alias asked for.",
            ("route",)))
        self.fallbacks = CounterValues(Family(
            "llmp_fallbacks", "Requests moved from one provider to another.",
            ("route", "from_provider", "to_provider")))
        self.circuit_state = GaugeValues(Family(
            "llmp_circuit_state", "1 for the state each provider's circuit is in.", ("provider", "state")))
        self.circuit_transitions = CounterValues(Family(
            "llmp_circuit_transitions", "Circuit breaker state changes.",
            ("provider", "from_state", "to_state")))
        self.health_latency = HistogramValues(Family(
            "llmp_health_check_duration_seconds", "Health probe latency by provider and outcome.",
            ("provider", "outcome")), HEALTH_BUCKETS)
        self.provider_up = GaugeValues(Family(
            "llmp_provider_up", "1 if the last health check passed, 0 if it failed.", ("provider",)))
        #: Every result shows (at 0) before it first happens.
        self.cache_requests = CounterValues(Family(
            "llmp_cache_requests", "Requests the response cache took part in, by result.", ("result",)),
            *((result,) for result in CACHE_RESULTS))
        self.connections_refused = CounterValues(Family(
            "llmp_connections_refused", "Client connections refused past server.limits.max_connections."))
        self.cache_bytes = GaugeValues(Family(
            "llmp_cache_bytes", "Bytes the response cache's entries take on disk."))
        self._models = _LabelValues()
        self._routes = _LabelValues()
        self._deployments = _LabelValues()

    def request_finished(self, record: Finished, tried: list[tuple[str, str]]) -> None:
        """Count one finished request: plain arithmetic, run on the event loop for every request.

        `tried` is the (provider, model) of each attempt, in order: a repeat is
        a retry, a change a fallback.
        """
        key = (record.provider or NONE, record.model or NONE)
        series = self.series.get(key)
        if series is None:  # a new model, or one counted as OTHER
            key = (key[0], self._models(key[1]))
            series = self.series.get(key) or self.series.setdefault(key, Series())
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
            self.cache_requests.inc(record.cache)
        if len(tried) < 2:  # most requests: one attempt, nothing retried or moved
            return
        route = self._routes(record.alias or record.requested_model)
        for before, after in pairwise(tried):
            if before == after:  # the same deployment again: a retry
                self.retries.inc(route)
            else:
                self.record_fallback(route, before[0], after[0])

    # -- reported by routing -------------------------------------------------

    def record_fallback(self, route: str, from_provider: str, to_provider: str) -> None:
        self.fallbacks.inc(route, from_provider, to_provider)

    def record_circuit_transition(self, provider: str, old: str, new: str) -> None:
        """`provider` names the circuit: a provider, or a deployment (`provider/model`)."""
        if "/" in provider:  # a deployment: its model may be any name a client sent
            provider = self._deployments(provider)
        self.circuit_transitions.inc(provider, old, new)
        for state in CIRCUIT_STATES:
            self.circuit_state.set(1 if state == new else 0, provider, state)

    def record_health_check(self, provider: str, seconds: float, ok: bool) -> None:
        self.health_latency.observe(seconds, provider, "ok" if ok else "fail")
        self.provider_up.set(1 if ok else 0, provider)
