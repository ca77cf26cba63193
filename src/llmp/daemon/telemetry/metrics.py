"""Prometheus metrics for `GET /metrics`, in a registry of this daemon's own.

A per-runtime `CollectorRegistry` (not the library's global one) keeps two
gateways in one process, as the tests run them, from adding up each other's
numbers. Label children are cached per (provider, model) so a finished
request costs a handful of increments.

Retries (the same deployment again) and fallbacks (another deployment) are
read from the attempts the router records on `RequestContext.tried`. The
runtime subscribes two more reports to what only routing sees:

* `record_circuit_transition(breaker, old, new)` when a circuit breaker
  (a provider, or a `provider/model` deployment) changes state;
* `record_health_check(provider, seconds, ok)` after each health probe.

They also feed `provider_state`, which `/admin/stats` and `llmp status --watch`
show.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import pairwise
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from llmp.daemon.context import RequestContext
from llmp.daemon.telemetry.usage import Tokens

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
HEALTH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CIRCUIT_STATES = ("closed", "half_open", "open")
NONE = "none"  # the label of a request that never reached a provider (unknown model, bad input)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class _Series:
    """The label children of one (provider, model), looked up once."""

    __slots__ = ("cached", "cost", "duration", "requests", "tokens_in", "tokens_out", "ttft")

    def __init__(self, metrics: Metrics, provider: str, model: str) -> None:
        self.requests = {
            status_class: metrics.requests.labels(provider, model, status_class)
            for status_class in ("2xx", "4xx", "5xx")
        }
        self.duration = metrics.duration.labels(provider, model)
        self.ttft = metrics.ttft.labels(provider, model)
        self.tokens_in = metrics.tokens.labels(provider, model, "input")
        self.tokens_out = metrics.tokens.labels(provider, model, "output")
        self.cached = metrics.tokens.labels(provider, model, "cached_input")
        self.cost = metrics.cost.labels(provider, model)


class Metrics:
    def __init__(self, in_flight: Callable[[], float] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.requests = Counter(
            "llmp_requests", "Requests answered, by provider, model and HTTP status class.",
            ["provider", "model", "status_class"], registry=r)
        self.duration = Histogram(
            "llmp_request_duration_seconds", "Time from request to the last byte of the answer.",
            ["provider", "model"], buckets=LATENCY_BUCKETS, registry=r)
        self.ttft = Histogram(
            "llmp_time_to_first_token_seconds", "Time from request to the first byte of the answer.",
            ["provider", "model"], buckets=TTFT_BUCKETS, registry=r)
        self.tokens = Counter(
            "llmp_tokens", "Tokens by direction (input, output, cached_input), as providers report.",
            ["provider", "model", "direction"], registry=r)
        self.cost = Counter(
            "llmp_cost_usd", "Cost in US dollars from the price table.", ["provider", "model"], registry=r)
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
        self._series: dict[tuple[str, str], _Series] = {}
        #: what routing last reported per provider, for /admin/stats
        self.provider_state: dict[str, dict[str, Any]] = {}

    def request_finished(self, ctx: RequestContext, tokens: Tokens | None, cost: float | None) -> None:
        key = (ctx.provider or NONE, ctx.model or NONE)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series(self, *key)
        status = ctx.status
        series.requests["2xx" if status < 400 else "5xx" if status >= 500 else "4xx"].inc()
        latency = ctx.latency
        if latency is not None:
            series.duration.observe(latency)
        ttfb = ctx.time_to_first_byte
        if ttfb is not None:
            series.ttft.observe(ttfb)
        if tokens is not None:
            series.tokens_in.inc(tokens.input)
            series.tokens_out.inc(tokens.output)
            if tokens.cached:
                series.cached.inc(tokens.cached)
        if cost:
            series.cost.inc(cost)
        tried = ctx.tried
        if len(tried) < 2:  # most requests: one attempt, nothing retried or moved
            return
        route = ctx.alias or ctx.requested_model
        for before, after in pairwise(tried):
            if before == after:  # the same deployment again: a retry
                self.retries.labels(route).inc()
            else:
                self.record_fallback(route, before[0], after[0])

    # -- reported by routing -------------------------------------------------

    def record_fallback(self, route: str, from_provider: str, to_provider: str) -> None:
        self.fallbacks.labels(route, from_provider, to_provider).inc()

    def record_circuit_transition(self, provider: str, old: str, new: str) -> None:
        self.circuit_transitions.labels(provider, old, new).inc()
        for state in CIRCUIT_STATES:
            self.circuit_state.labels(provider, state).set(1 if state == new else 0)
        self.provider_state.setdefault(provider, {})["circuit"] = new

    def record_health_check(self, provider: str, seconds: float, ok: bool) -> None:
        self.health_latency.labels(provider, "ok" if ok else "fail").observe(seconds)
        self.provider_up.labels(provider).set(1 if ok else 0)
        self.provider_state.setdefault(provider, {}).update(
            health="healthy" if ok else "failing",
            checked_at=time.time(),
            check_ms=round(seconds * 1000, 1),
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
