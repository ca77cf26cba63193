"""`GET /metrics` parsed with Prometheus' own parser and checked against the traffic sent."""

from __future__ import annotations

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from llmp.daemon.context import RequestContext
from llmp.daemon.telemetry import metrics as metrics_module
from llmp.daemon.telemetry.exposition import render
from llmp.daemon.telemetry.metrics import Metrics
from llmp.daemon.telemetry.record import finished
from llmp.daemon.telemetry.usage import Tokens
from tests.daemon.routing_support import closed_port_url
from tests.daemon.telemetry.upstream_data import COMPLETION, COST, gateway_config, stream_events
from tests.support.fake_upstream import FakeUpstream, fail, reply, stream


def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    response = httpx.get(url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_counters_match_the_traffic(make_gateway, upstream: FakeUpstream) -> None:
    upstream.then(reply(COMPLETION), reply(COMPLETION), reply(COMPLETION),
                  stream(stream_events()), stream(stream_events()), fail(500))
    gateway = make_gateway(gateway_config(upstream.url))
    client = gateway.openai()
    messages = [{"role": "user", "content": "hi"}]
    for _ in range(3):
        client.chat.completions.create(model="fast", messages=messages)
    for _ in range(2):
        list(client.chat.completions.create(model="fast", messages=messages, stream=True))
    assert httpx.post(gateway.base_url + "/chat/completions",
                      json={"model": "fast", "messages": messages}).status_code == 500
    assert httpx.post(gateway.base_url + "/chat/completions",
                      json={"model": "unknown-model", "messages": messages}).status_code == 404

    gateway.wait_idle()
    samples = scrape(gateway.url)
    up = {"provider": "up", "model": "gpt-4o-mini"}
    assert value(samples, "llmp_requests_total", **up, status_class="2xx") == 5
    assert value(samples, "llmp_requests_total", **up, status_class="5xx") == 1
    assert value(samples, "llmp_requests_total", provider="none", model="none", status_class="4xx") == 1
    assert value(samples, "llmp_tokens_total", **up, direction="input") == 5 * 9
    assert value(samples, "llmp_tokens_total", **up, direction="output") == 5 * 3
    assert value(samples, "llmp_tokens_total", **up, direction="cached_input") == 5 * 4
    assert value(samples, "llmp_cost_usd_total", **up) == pytest.approx(5 * COST)
    assert value(samples, "llmp_request_duration_seconds_count", **up) == 6
    assert value(samples, "llmp_time_to_first_token_seconds_count", **up) == 5
    assert value(samples, "llmp_request_duration_seconds_bucket", **up, le="+Inf") == 6
    assert value(samples, "llmp_requests_in_flight") == 0
    # The 500 is transient: retried twice on the same deployment (retry.attempts: 2).
    assert value(samples, "llmp_retries_total", route="fast") == 2
    assert len(upstream.requests) == 8


def test_histogram_buckets_are_cumulative_and_a_bound_counts_as_inside() -> None:
    """The daemon counts buckets itself, so check them against Prometheus' `le` rule."""
    metrics = Metrics()
    for seconds in (0.05, 0.3, 300.0, 400.0):
        ctx = RequestContext("r", "openai", "chat", "m", False, started=0.0, provider="p", model="m",
                             status=200, first_byte_at=seconds, finished_at=seconds)
        metrics.request_finished(finished(ctx, Tokens(5, 2, 1), 0.5), ctx.tried)
    samples = parse(render(metrics)[0].decode())
    series = {"provider": "p", "model": "m"}
    buckets = {le: value(samples, "llmp_request_duration_seconds_bucket", **series, le=le)
               for le in ("0.05", "0.1", "0.5", "300.0", "+Inf")}
    assert buckets == {"0.05": 1, "0.1": 1, "0.5": 2, "300.0": 3, "+Inf": 4}
    assert value(samples, "llmp_request_duration_seconds_count", **series) == 4
    assert value(samples, "llmp_request_duration_seconds_sum", **series) == pytest.approx(700.35)
    assert value(samples, "llmp_time_to_first_token_seconds_bucket", **series, le="30.0") == 2
    assert value(samples, "llmp_time_to_first_token_seconds_bucket", **series, le="+Inf") == 4
    assert value(samples, "llmp_tokens_total", **series, direction="cached_input") == 4
    assert value(samples, "llmp_cost_usd_total", **series) == 2.0


def test_retries_are_counted_by_route(make_gateway, make_upstream) -> None:
    first, second = make_upstream(), make_upstream()
    first.always(fail(503))
    second.always(reply(COMPLETION))
    config = f"""
providers:
  a: {{type: openai, base_url: "{first.url}/v1", api_key: none, models: [m1]}}
  b: {{type: openai, base_url: "{second.url}/v1", api_key: none, models: [m2]}}
models:
  pair: [a/m1, b/m2]
"""
    gateway = make_gateway(config)
    gateway.openai().chat.completions.create(model="pair", messages=[{"role": "user", "content": "x"}])
    gateway.wait_idle()
    samples = scrape(gateway.url)
    # a/m1 answers 503 three times (the first try and its two retries), then b/m2 answers.
    assert value(samples, "llmp_retries_total", route="pair") == 2
    assert value(samples, "llmp_fallbacks_total", route="pair", from_provider="a",
                 to_provider="b") == 1
    assert value(samples, "llmp_requests_total", provider="b", model="m2", status_class="2xx") == 1


def test_routing_reports_reach_metrics(make_gateway, upstream: FakeUpstream) -> None:
    gateway = make_gateway(gateway_config(upstream.url))

    metrics = gateway.runtime.metrics
    gateway.server.call_soon(lambda: (
        metrics.record_circuit_transition("up", "closed", "open"),
        metrics.record_health_check("up", 0.042, ok=False),
        metrics.record_fallback("fast", "up", "other"),
    ))
    gateway.wait_idle()
    samples = scrape(gateway.url)
    assert value(samples, "llmp_circuit_state", provider="up", state="open") == 1
    assert value(samples, "llmp_circuit_state", provider="up", state="closed") == 0
    assert value(samples, "llmp_circuit_transitions_total", provider="up", from_state="closed",
                 to_state="open") == 1
    assert value(samples, "llmp_health_check_duration_seconds_count", provider="up", outcome="fail") == 1
    assert value(samples, "llmp_provider_up", provider="up") == 0
    assert value(samples, "llmp_fallbacks_total", route="fast", from_provider="up",
                 to_provider="other") == 1


def test_two_gateways_in_one_process_keep_their_own_numbers(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(COMPLETION))
    one, two = make_gateway(gateway_config(upstream.url)), make_gateway(gateway_config(upstream.url))
    one.openai().chat.completions.create(model="fast", messages=[{"role": "user", "content": "x"}])
    labels = {"provider": "up", "model": "gpt-4o-mini", "status_class": "2xx"}
    assert value(scrape(one.url), "llmp_requests_total", **labels) == 1
    assert value(scrape(two.url), "llmp_requests_total", **labels) == 0


def test_circuit_transitions_and_health_checks_reach_metrics(make_gateway, make_upstream) -> None:
    """The runtime wires routing's own events to /metrics: no call made by hand."""
    healthy = make_upstream()
    healthy.always(reply({"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]}))
    # refused connections: evidence about the provider, so its own circuit opens too
    config = f"""
providers:
  up: {{type: openai, base_url: "{closed_port_url()}/v1", api_key: none, models: [gpt-4o-mini]}}
  ok: {{type: openai, base_url: "{healthy.url}/v1", api_key: none, models: [gpt-4o-mini]}}
defaults:
  retry: {{attempts: 0}}
  circuit_breaker: {{failure_threshold: 1}}
"""
    gateway = make_gateway(config)
    with pytest.raises(openai.InternalServerError):
        gateway.openai().chat.completions.create(
            model="up/gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    runtime = gateway.runtime
    gateway.server.call(runtime.health.probe(runtime.providers["ok"]))
    gateway.wait_idle()
    samples = scrape(gateway.url)
    assert value(samples, "llmp_circuit_transitions_total", provider="up/gpt-4o-mini",
                 from_state="closed", to_state="open") == 1
    assert value(samples, "llmp_circuit_state", provider="up", state="open") == 1
    assert value(samples, "llmp_health_check_duration_seconds_count", provider="ok", outcome="ok") == 1
    assert value(samples, "llmp_provider_up", provider="ok") == 1
    assert healthy.requests[-1].path == "/v1/models"


def test_models_a_client_makes_up_do_not_grow_the_metrics_without_bound(
        make_gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """A provider serving "*" takes any name: past a limit, new names are counted as `other`."""
    monkeypatch.setattr(metrics_module, "MAX_LABEL_VALUES", 3)
    gateway = make_gateway("providers:\n  mock: {type: mock, models: ['*']}\n")
    client = gateway.openai()
    names = [f"made-up-{i}" for i in range(6)]
    for name in [*names, names[0], names[5]]:
        client.chat.completions.create(model=f"mock/{name}", messages=[{"role": "user", "content": "x"}])
    gateway.wait_idle()
    samples = scrape(gateway.url)
    counted = {dict(labels)["model"]: count for (name, labels), count in samples.items()
               if name == "llmp_requests_total" and dict(labels).get("provider") == "mock"
               and dict(labels)["status_class"] == "2xx"}
    assert counted == {"made-up-0": 2, "made-up-1": 1, "made-up-2": 1, "other": 4}
