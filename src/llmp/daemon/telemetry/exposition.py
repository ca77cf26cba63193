"""`/metrics` as Prometheus text: a runtime's plain numbers turned into the library's families.

Imported on the first scrape only (see `metrics`). The families come out in
one fixed order, with the names, help, labels, buckets and `_created` samples
prometheus_client's own Counter, Gauge and Histogram children would give;
`disable_created_metrics()` is honoured as those children honour it.
"""

from __future__ import annotations

from itertools import accumulate

from prometheus_client import metrics as prometheus_metrics
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from llmp.daemon.telemetry.metrics import (
    LATENCY_BUCKETS,
    SERIES_LABELS,
    STATUS_CLASSES,
    TTFT_BUCKETS,
    CounterValues,
    GaugeValues,
    HistogramValues,
    Metrics,
    Series,
)
from llmp.daemon.telemetry.sink_health import HEALTH as SINK_HEALTH


def render(metrics: Metrics) -> tuple[bytes, str]:
    return generate_latest(_Collector(metrics)), CONTENT_TYPE_LATEST


class _Collector:
    """What `generate_latest` reads: every family of one `Metrics`, in the order they always came."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> list[Metric]:
        m = self._metrics
        created = prometheus_metrics._use_created
        return [
            *_series_families(m.series, created),
            _gauge(m.in_flight),
            _counter(m.retries, created),
            _counter(m.fallbacks, created),
            _gauge(m.circuit_state),
            _counter(m.circuit_transitions, created),
            _histogram(m.health_latency, created),
            _gauge(m.provider_up),
            _dropped(),
            _counter(m.cache_requests, created),
            _counter(m.connections_refused, created),
            _gauge(m.cache_bytes),
        ]


def _series_families(series: dict[tuple[str, str], Series], use_created: bool) -> list[Metric]:
    requests = CounterMetricFamily(
        "llmp_requests", "Requests answered, by provider, model and HTTP status class.",
        labels=[*SERIES_LABELS, "status_class"])
    duration = HistogramMetricFamily(
        "llmp_request_duration_seconds", "Time from request to the last byte of the answer.",
        labels=SERIES_LABELS)
    ttft = HistogramMetricFamily(
        "llmp_time_to_first_token_seconds", "Time from request to the first byte of the answer.",
        labels=SERIES_LABELS)
    tokens = CounterMetricFamily(
        "llmp_tokens", "Tokens by direction (input, output, cached_input), as providers report.",
        labels=[*SERIES_LABELS, "direction"])
    cost = CounterMetricFamily(
        "llmp_cost_usd", "Cost in US dollars from the price table.", labels=SERIES_LABELS)
    for (provider, model), one in series.items():
        labels = [provider, model]
        created = one.created if use_created else None
        for status_class, count in zip(STATUS_CLASSES, one.requests, strict=True):
            requests.add_metric([provider, model, status_class], count, created)
        _add_histogram(duration, labels, _LATENCY_LE, one.duration, one.duration_sum, created)
        _add_histogram(ttft, labels, _TTFT_LE, one.ttft, one.ttft_sum, created)
        tokens.add_metric([provider, model, "input"], one.tokens_in, created)
        tokens.add_metric([provider, model, "output"], one.tokens_out, created)
        tokens.add_metric([provider, model, "cached_input"], one.cached, created)
        cost.add_metric(labels, one.cost, created)
    return [requests, duration, ttft, tokens, cost]


def _counter(counter: CounterValues, use_created: bool) -> Metric:
    family = counter.family
    rendered = CounterMetricFamily(family.name, family.help, labels=family.labels)
    for labels, (value, created) in counter.children.items():
        rendered.add_metric(list(labels), value, created if use_created else None)
    return rendered


def _gauge(gauge: GaugeValues) -> Metric:
    family = gauge.family
    rendered = GaugeMetricFamily(family.name, family.help, labels=family.labels)
    if gauge.function is not None:
        rendered.add_metric([], gauge.function())
        return rendered
    for labels, value in gauge.values.items():
        rendered.add_metric(list(labels), value)
    return rendered


def _histogram(histogram: HistogramValues, use_created: bool) -> Metric:
    family = histogram.family
    rendered = HistogramMetricFamily(family.name, family.help, labels=family.labels)
    le = _le(histogram.bounds)
    for labels, child in histogram.children.items():
        _add_histogram(rendered, list(labels), le, child.counts, child.total,
                       child.created if use_created else None, family.labels)
    return rendered


def _dropped() -> Metric:
    """What the telemetry sinks could not write (process-wide, like the sinks themselves)."""
    family = CounterMetricFamily(
        "llmp_telemetry_dropped", "Log lines, ledger rows and finished requests telemetry dropped",
        labels=["sink"])
    for sink, count in SINK_HEALTH.snapshot()["dropped"].items():  # type: ignore[union-attr]
        family.add_metric([sink], count)
    return family


def _le(bounds: tuple[float, ...]) -> tuple[str, ...]:
    """The `le` label values of a histogram's buckets, +Inf last, spelled as the library does."""
    return (*map(floatToGoString, bounds), "+Inf")


_LATENCY_LE = _le(LATENCY_BUCKETS)
_TTFT_LE = _le(TTFT_BUCKETS)


def _add_histogram(family: HistogramMetricFamily, labels: list[str], le: tuple[str, ...],
                   counts: list[int], total: float, created: float | None,
                   names: tuple[str, ...] = SERIES_LABELS) -> None:
    family.add_metric(labels, list(zip(le, accumulate(counts), strict=True)), total)
    if created is not None:  # HistogramMetricFamily has no `created`; a child puts it last
        family.samples.append(Sample(family.name + "_created", dict(zip(names, labels, strict=True)),
                                     created))
