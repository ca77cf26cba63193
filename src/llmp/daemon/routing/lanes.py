"""Each deployment's lane: the breakers, rate limiter and statistics a request on it touches.

Admitting and settling a request are on every request's path, so a
deployment's pieces are looked up once, into its lane, and the router finds
the lane with one dict lookup (`known`). Clients choose model names
(`provider/any-name`, or any name at a provider serving "*"), and each new one
is a deployment of its own; past `MAX_LANES`, the idle ones are forgotten so a
client making names up cannot grow them without bound.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from llmp.core.config_schema import RateLimitConfig
from llmp.daemon.routing.breaker import BreakerRegistry, CircuitBreaker
from llmp.daemon.routing.clock import Clock
from llmp.daemon.routing.rate_limit import RateLimiter
from llmp.daemon.routing.resolver import Target
from llmp.daemon.routing.stats import Stats, StatsBook

MAX_LANES = 4096  # deployments whose breakers and statistics are kept while idle


@dataclass(slots=True)
class Lane:
    """What admitting and settling one deployment touch."""

    deployment: CircuitBreaker
    provider_breaker: CircuitBreaker
    limiter: RateLimiter
    stats: Stats
    #: Until when this deployment's upstream asked not to be sent requests (its 429's
    #: Retry-After): one model's limit holds back that model only. 0: not held.
    blocked_until: float = 0.0


class Lanes:
    def __init__(self, breakers: BreakerRegistry, stats: StatsBook,
                 limits_for: Callable[[str], RateLimitConfig], clock: Clock) -> None:
        self._breakers = breakers
        self._stats = stats
        self._limits_for = limits_for
        self._clock = clock
        self._limiters: dict[str, RateLimiter] = {}
        #: By (provider, model): the router looks here first and calls `make` on a miss.
        self.known: dict[tuple[str, str], Lane] = {}

    def limiter(self, provider: str) -> RateLimiter:
        """A provider's rate limiter, shared by its deployments."""
        limiter = self._limiters.get(provider)
        if limiter is None:
            limiter = self._limiters[provider] = RateLimiter(self._limits_for(provider), self._clock)
        return limiter

    def make(self, target: Target) -> Lane:
        """A deployment's lane, the first time it is admitted (or again, once forgotten)."""
        if len(self.known) >= MAX_LANES:
            self._forget_idle()
        lane = self.known[(target.provider, target.model)] = Lane(
            self._breakers.get(target.provider, target.model),
            self._breakers.get(target.provider), self.limiter(target.provider),
            self._stats.get(target.provider, target.model),
        )
        return lane

    def _forget_idle(self) -> None:
        """Drop the deployments with nothing to remember: a closed circuit with nothing in its
        window, and nothing in flight. One asked for again starts afresh."""
        for (provider, model), lane in list(self.known.items()):
            if lane.deployment.idle and lane.stats.in_flight == 0 and not lane.blocked_until:
                del self.known[(provider, model)]
                self._breakers.forget(provider, model)
                self._stats.forget(provider, model)
