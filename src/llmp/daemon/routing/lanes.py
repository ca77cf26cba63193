"""Each deployment's lane: the breakers, rate limiter and statistics a request on it touches.

Admitting and settling a request are on every request's path, so a
deployment's pieces are looked up once, into its lane, and the router finds
the lane with one dict lookup (`known`). Clients choose model names
(`provider/any-name`, or any name at a provider serving "*"), and each new one
is a deployment of its own, so lanes are bounded, with constant work per new
name however many there were:

* a lane whose state has expired (nothing in flight, its circuit as good as
  fresh, no request in the five minutes `llmp providers health` shows) is
  forgotten when a new one is made;
* past `MAX_LANES`, the least recently used lane is forgotten whatever it
  holds. A request still running on it settles on the lane it was admitted
  with; a name asked for again starts afresh.

The router moves a lane to the back of `known` at each admission, so the
front is always the least recently used.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from llmp.core.config_schema import RateLimitConfig
from llmp.daemon.routing.breaker import BreakerRegistry, CircuitBreaker
from llmp.daemon.routing.clock import Clock
from llmp.daemon.routing.rate_limit import RateLimiter
from llmp.daemon.routing.resolver import Target
from llmp.daemon.routing.stats import WINDOW, Stats, StatsBook

MAX_LANES = 1024  # deployments whose breakers and statistics are kept


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

    def expired(self, now: float) -> bool:
        """Nothing here would change a decision or a report from now on."""
        samples = self.stats.samples
        return (self.stats.in_flight == 0 and self.blocked_until <= now
                and (not samples or samples[-1][0] <= now - WINDOW)
                and self.deployment.expired(now))


class Lanes:
    def __init__(self, breakers: BreakerRegistry, stats: StatsBook,
                 limits_for: Callable[[str], RateLimitConfig], clock: Clock) -> None:
        self._breakers = breakers
        self._stats = stats
        self._limits_for = limits_for
        self._clock = clock
        self._limiters: dict[str, RateLimiter] = {}
        #: By (provider, model), least recently admitted first: the router looks here first
        #: (and moves what it finds to the end), and calls `make` on a miss.
        self.known: OrderedDict[tuple[str, str], Lane] = OrderedDict()

    def limiter(self, provider: str) -> RateLimiter:
        """A provider's rate limiter, shared by its deployments."""
        limiter = self._limiters.get(provider)
        if limiter is None:
            limiter = self._limiters[provider] = RateLimiter(self._limits_for(provider), self._clock)
        return limiter

    def make(self, target: Target) -> Lane:
        """A deployment's lane, the first time it is admitted (or again, once forgotten)."""
        known = self.known
        now = self._clock.now()
        while known and (len(known) >= MAX_LANES or next(iter(known.values())).expired(now)):
            self._forget(*known.popitem(last=False)[0])
        lane = known[(target.provider, target.model)] = Lane(
            self._breakers.get(target.provider, target.model),
            self._breakers.get(target.provider), self.limiter(target.provider),
            self._stats.get(target.provider, target.model),
        )
        return lane

    def _forget(self, provider: str, model: str) -> None:
        self._breakers.forget(provider, model)
        self._stats.forget(provider, model)
