"""Circuit breakers: stop sending traffic where it keeps failing, and find out when it recovers.

One breaker per deployment (provider + model) and one per provider. A breaker
opens after `failure_threshold` failures within `window` (or, when
`failure_rate` is set, once that share of at least `min_requests` requests
failed), so a single stray error never takes a provider out. After
`recovery_time` it lets `half_open_requests` probes through; a probe that
succeeds closes it, one that fails opens it again for twice as long (up to
`max_recovery_time`). A person asking for a check now (`llmp providers health
--check`) gets a probe at once, even through an open circuit; its failure does
not lengthen the recovery time, so checking often never delays recovery.

A provider's breaker is told which deployment each failure came from (its
`source`; None for evidence about the provider itself, such as a refused
connection). Failures that all came from one deployment never open it: one
model failing says nothing about the provider's other models (see
`routing.scope` for which failures are whose).

Every admission returns a ticket naming the breaker's generation; a verdict
that arrives after the breaker changed state (a slow request admitted before
it opened) is ignored, so it cannot close a circuit it never probed.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable
from enum import Enum

from llmp.core.config_schema import CircuitBreakerConfig
from llmp.daemon.routing.clock import Clock

log = logging.getLogger("llmp.routing")


class State(str, Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


_CLOSED = State.CLOSED
#: Every transition a breaker can make.
_MOVES = (("closed", "open"), ("open", "half_open"), ("half_open", "closed"), ("half_open", "open"))
Ticket = int
Transition = Callable[["CircuitBreaker", State, State], None]


class CircuitBreaker:
    def __init__(
        self, name: str, config: CircuitBreakerConfig, clock: Clock, on_transition: Transition,
        *, spread: bool = False,
    ) -> None:
        self.name = name
        self.config = config
        self._clock = clock
        self._on_transition = on_transition
        self._state = State.CLOSED
        self._generation = 0
        #: (when, failed, source) within the window; source: the hash of the deployment a failure
        #: came from (a client's model name is not kept alive here). At most as many as a
        #: verdict needs, however fast requests come: the latest ones decide.
        self._events: deque[tuple[float, bool, int | None]] = deque(
            maxlen=max(config.failure_threshold, config.min_requests))
        self._failures = 0  # failed events in `_events`
        #: A provider's breaker: failures of a single deployment alone never open it.
        self._spread = spread
        self._opened_at = 0.0
        self.recovery = config.recovery_time
        self._probes = 0
        #: A success changes nothing: the circuit is closed and counts failures only (the usual
        #: case). The router then skips `record` for a success.
        self.ignores_success = config.failure_rate is None
        #: The ticket `allow` hands out while the circuit is closed, and None while it is not:
        #: the router takes it without a call (admission is on every request's path).
        self.closed_ticket: Ticket | None = self._generation
        self._asked = False  # the half-open state was asked for by `probe_now`
        #: (provider, model) in its registry; model None: a provider's own breaker.
        self.key: tuple[str, str | None] = (name, None)

    @property
    def state(self) -> State:
        if self._state is State.OPEN and self._clock.now() >= self._opened_at + self.recovery:
            self._move(State.HALF_OPEN)
        return self._state

    def expired(self, now: float) -> bool:
        """A fresh breaker would behave the same from now on: closed with nothing left in its
        window, or half-open with no probe out for a whole window (nobody asked for it)."""
        window = self.config.window
        if self._state is _CLOSED:
            return not self._events or self._events[-1][0] <= now - window
        return (self.state is State.HALF_OPEN and not self._probes
                and now >= self._opened_at + self.recovery + window)

    def next_probe_in(self) -> float:
        """Seconds until this breaker admits a request again (0 when it does now)."""
        state = self.state
        if state is State.OPEN:
            return max(0.0, self._opened_at + self.recovery - self._clock.now())
        if state is State.HALF_OPEN and self._probes >= self.config.half_open_requests:
            return self.recovery  # the probe is out; its verdict comes first
        return 0.0

    def allow(self) -> Ticket | None:
        if self.closed_ticket is not None:  # the usual case, without the state property's clock read
            return self.closed_ticket
        state = self.state  # not closed: only open, or half-open once the recovery time is up
        if state is State.HALF_OPEN and self._probes < self.config.half_open_requests:
            self._probes += 1
            return self._generation
        return None

    def probe_now(self) -> Ticket | None:
        """Admit a probe asked for by a person: an open circuit turns half-open at once."""
        if self.state is State.OPEN:
            self._opened_at = self._clock.now() - self.recovery
            if self.state is State.HALF_OPEN:
                self._asked = True
        return self.allow()

    def release(self, ticket: Ticket) -> None:
        """An admitted request ended with no verdict (cancelled): give its probe slot back."""
        if ticket == self._generation and self._state is State.HALF_OPEN and self._probes:
            self._probes -= 1

    def record(self, ticket: Ticket, ok: bool, source: str | None = None) -> None:
        """An admitted request's verdict; `source` names the deployment whose failure it was
        (None when the failure is evidence about the whole provider)."""
        if ticket != self._generation:
            return
        if ok and self.ignores_success:
            return
        state = self.state
        if state is State.HALF_OPEN:
            if ok:
                self.recovery = self.config.recovery_time
                self._move(State.CLOSED)
            else:
                if not self._asked:
                    self.recovery = min(self.recovery * 2, self.config.max_recovery_time)
                self._open()
            return
        if state is State.OPEN:
            return
        now = self._clock.now()
        events = self._events
        if len(events) == events.maxlen:
            self._failures -= events.popleft()[1]
        events.append((now, not ok, None if source is None else hash(source)))
        self._failures += not ok
        while events[0][0] <= now - self.config.window:
            self._failures -= events.popleft()[1]
        if ok:
            return
        failures = self._failures
        rate = self.config.failure_rate
        if (failures >= self.config.failure_threshold or (
            rate is not None and len(events) >= self.config.min_requests
            and failures / len(events) >= rate
        )) and not (self._spread and self._one_deployment()):
            self._open()

    def _one_deployment(self) -> bool:
        """Every failure in the window came from the same single deployment."""
        sources = {source for _, failed, source in self._events if failed}
        return len(sources) == 1 and None not in sources

    def _open(self) -> None:
        self._opened_at = self._clock.now()
        self._move(State.OPEN)

    def _move(self, new: State) -> None:
        old, self._state = self._state, new
        self.ignores_success = new is _CLOSED and self.config.failure_rate is None
        self._generation += 1
        self.closed_ticket = self._generation if new is _CLOSED else None
        self._probes = 0
        self._asked = False
        self._events.clear()
        self._failures = 0
        self._on_transition(self, old, new)


class BreakerRegistry:
    """All breakers, created on first use, and a count of every transition for telemetry."""

    def __init__(self, clock: Clock, config_for: Callable[[str], CircuitBreakerConfig]) -> None:
        self._clock = clock
        self._config_for = config_for
        self._breakers: dict[tuple[str, str | None], CircuitBreaker] = {}
        #: The deployments' breakers that are not closed, by provider: what health checks probe,
        #: found without looking at every deployment ever seen.
        self._unsettled: dict[str, dict[str, CircuitBreaker]] = {}
        self.transitions: Counter[tuple[str, str, str]] = Counter()  # (name, from, to) -> count
        self.observers: list[Transition] = []

    def get(self, provider: str, model: str | None = None) -> CircuitBreaker:
        key = (provider, model)
        breaker = self._breakers.get(key)
        if breaker is None:
            name = provider if model is None else f"{provider}/{model}"
            breaker = CircuitBreaker(name, self._config_for(provider), self._clock, self._moved,
                                     spread=model is None)
            breaker.key = key
            self._breakers[key] = breaker
        return breaker

    def deployments(self, provider: str) -> dict[str, CircuitBreaker]:
        return {m: b for (p, m), b in self._breakers.items() if p == provider and m is not None}

    def unsettled(self, provider: str) -> dict[str, CircuitBreaker]:
        """A provider's deployments whose circuit is open or half-open."""
        return self._unsettled.get(provider, {})

    def forget(self, provider: str, model: str) -> None:
        """Drop a deployment's breaker and the count of its transitions (its name is a client's)."""
        breaker = self._breakers.pop((provider, model), None)
        if breaker is not None:
            self._unsettled.get(provider, {}).pop(model, None)
            for old, new in _MOVES:
                self.transitions.pop((breaker.name, old, new), None)

    def _moved(self, breaker: CircuitBreaker, old: State, new: State) -> None:
        self.transitions[(breaker.name, old.value, new.value)] += 1
        provider, model = breaker.key
        if model is not None and self._breakers.get(breaker.key) is breaker:
            if new is _CLOSED:
                self._unsettled.get(provider, {}).pop(model, None)
            else:
                self._unsettled.setdefault(provider, {})[model] = breaker
        level = logging.WARNING if new is State.OPEN else logging.INFO
        log.log(level, "circuit %s: %s -> %s (recovery %.0fs)", breaker.name, old.value,
                new.value, breaker.recovery)
        for observer in self.observers:
            observer(breaker, old, new)
