"""`defaults` and the per-provider routing options: providers inherit, and override key by key."""

from __future__ import annotations

import pytest

from llmp.core.config_loader import ConfigError, parse_config


def test_providers_inherit_defaults_and_override_them_key_by_key() -> None:
    config = parse_config("""
defaults:
  timeout: {connect: 5, first_token: 30, total: 300}
  retry: {attempts: 3, backoff: 0.25}
  circuit_breaker: {failure_threshold: 4, recovery_time: 10}
  health_check: {interval: 20, model: probe-model}
providers:
  a:
    type: mock
    timeout: 20
    retry: {backoff: 1}
    circuit_breaker: {half_open_requests: 2}
    health_check: {enabled: false}
    rate_limit: {rpm: 500, tpm: 200000, max_concurrent: 50}
    weight: 3
  b:
    type: mock
models:
  smart:
    strategy: weighted
    targets: [a/x, b/x]
""")
    a, b = config.providers["a"], config.providers["b"]
    assert (a.timeout.connect, a.timeout.total) == (5, 20)  # a bare number is the total
    assert (a.retry.attempts, a.retry.backoff, a.retry.max_backoff) == (3, 1, 5)
    assert (a.circuit_breaker.failure_threshold, a.circuit_breaker.half_open_requests) == (4, 2)
    assert a.health_check.enabled is False and a.health_check.interval == 20
    assert (a.rate_limit.rpm, a.rate_limit.tpm, a.rate_limit.max_concurrent) == (500, 200000, 50)
    assert a.weight == 3
    assert (b.timeout.first_token, b.retry.backoff, b.health_check.model) == (30, 0.25, "probe-model")
    assert b.rate_limit.rpm is None and b.weight == 1


def test_without_defaults_everything_keeps_its_default() -> None:
    provider = parse_config("providers:\n  m: {type: mock}\n").providers["m"]
    assert (provider.retry.attempts, provider.circuit_breaker.failure_threshold,
            provider.health_check.interval, provider.timeout.total) == (2, 5, 60, 600)


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        ("defaults:\n  retry: {atempts: 2}\n",
         "defaults.retry.atempts: unknown option 'atempts' (did you mean 'attempts'?)"),
        ("providers:\n  m: {type: mock, weight: 0}\n", "providers.m.weight"),
        ("providers:\n  m: {type: mock, rate_limit: {rpm: -1}}\n", "providers.m.rate_limit.rpm"),
        ("defaults:\n  circuit_breaker: {failure_rate: 2}\n", "defaults.circuit_breaker.failure_rate"),
    ],
)
def test_bad_routing_options_name_the_line_and_option(yaml: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml)
    assert message in str(caught.value)
    assert "config.yaml:" in str(caught.value)
