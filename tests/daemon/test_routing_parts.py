"""The pieces the router is built from, where a gateway test could not pin a case down."""

from __future__ import annotations

import logging
import random

import pytest

from llmp.core.config_schema import CircuitBreakerConfig, RateLimitConfig, RetryConfig
from llmp.daemon.routing.breaker import BreakerRegistry, State
from llmp.daemon.routing.rate_limit import RateLimiter, estimate_tokens
from llmp.daemon.routing.retry import retry_delay
from tests.support.clock import ManualClock


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    config = RetryConfig(attempts=5, backoff=0.5, max_backoff=3)
    rng = random.Random(7)
    for retry, cap in enumerate([0.5, 1, 2, 3, 3]):
        delays = [retry_delay(config, retry, None, 100, rng) for _ in range(200)]
        assert all(d is not None and 0 <= d <= cap for d in delays)
        assert max(d for d in delays if d is not None) > cap * 0.9  # the whole range is used
    assert retry_delay(config, 5, None, 100, rng) is None  # budget spent


def test_retry_after_is_a_floor_and_the_deadline_a_ceiling() -> None:
    config = RetryConfig(attempts=3, backoff=0.1, max_backoff=8)
    rng = random.Random(1)
    assert retry_delay(config, 0, 2.5, 100, rng) == 2.5
    assert retry_delay(config, 0, 9, 100, rng) is None  # longer than max_backoff: move on
    assert retry_delay(config, 0, 2.5, 2.0, rng) is None  # past the request's deadline


def test_a_verdict_from_before_the_circuit_opened_is_ignored() -> None:
    clock = ManualClock()
    registry = BreakerRegistry(clock, lambda _: CircuitBreakerConfig(failure_threshold=1,
                                                                     recovery_time=10))
    breaker = registry.get("p", "m")
    slow = breaker.allow()  # admitted while closed, answers late
    failing = breaker.allow()
    assert slow is not None and failing is not None
    breaker.record(failing, False)
    assert breaker.state is State.OPEN
    clock.advance(10)
    assert breaker.state is State.HALF_OPEN
    breaker.record(slow, True)  # not the probe: must not close the circuit
    assert breaker.state is State.HALF_OPEN
    probe = breaker.allow()
    assert probe is not None and breaker.allow() is None  # one probe at a time
    breaker.release(probe)  # the probe's client went away: the slot is free again
    assert breaker.allow() is not None
    assert registry.transitions[("p/m", "closed", "open")] == 1
    assert registry.transitions[("p/m", "open", "half_open")] == 1


def test_rate_limiter_windows_and_upstream_blocks() -> None:
    clock = ManualClock()
    limiter = RateLimiter(RateLimitConfig(rpm=2, tpm=100, max_concurrent=5), clock)
    assert limiter.acquire(60) and not limiter.acquire(60)  # tokens would pass 100
    limiter.release(60, actual=10)
    assert limiter.acquire(60) and not limiter.acquire(1)  # now two requests this minute
    assert limiter.wait_time() == 60
    clock.advance(60)
    assert limiter.acquire(10)
    limiter.block_for(5)
    assert limiter.wait_time() == 5 and not limiter.acquire()


def test_token_estimate_counts_prompt_bytes_and_the_output_cap() -> None:
    body = {"messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 50}
    assert 150 <= estimate_tokens(body) <= 170
    assert estimate_tokens({"input": "abcd" * 10}) == 10


def test_every_circuit_transition_is_logged_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    registry = BreakerRegistry(clock, lambda _: CircuitBreakerConfig(failure_threshold=1,
                                                                     recovery_time=10))
    seen: list[tuple[str, str, str]] = []
    registry.observers.append(lambda b, old, new: seen.append((b.name, old.value, new.value)))
    breaker = registry.get("p")
    with caplog.at_level(logging.INFO, logger="llmp.routing"):
        ticket = breaker.allow()
        assert ticket is not None
        breaker.record(ticket, False)
        clock.advance(10)
        probe = breaker.allow()
        assert probe is not None
        breaker.record(probe, False)  # the probe failed: open again, for twice as long
        clock.advance(20)
        probe = breaker.allow()
        assert probe is not None
        breaker.record(probe, True)
    moves = [("p", "closed", "open"), ("p", "open", "half_open"), ("p", "half_open", "open"),
             ("p", "open", "half_open"), ("p", "half_open", "closed")]
    assert seen == moves
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "circuit p: closed -> open (recovery 10s)"),
        ("INFO", "circuit p: open -> half_open (recovery 10s)"),
        ("WARNING", "circuit p: half_open -> open (recovery 20s)"),
        ("INFO", "circuit p: open -> half_open (recovery 20s)"),
        ("INFO", "circuit p: half_open -> closed (recovery 10s)"),
    ]
    assert sum(registry.transitions.values()) == 5
    assert registry.transitions[("p", "open", "half_open")] == 2
