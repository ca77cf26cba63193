"""The attempt loop: try the route's targets until one answers.

Failures are only retried before the first byte has reached the client: the
`attempt` callable does everything up to and including the first byte of a
stream, so an `UpstreamError` raised from it can still be acted on.

What a failure's class (`ErrorKind`) leads to:

* transient (rate limited, overloaded, server error, timeout, connection,
  incomplete): retried on the same deployment with backoff, then the next
  target, which gets its own retry budget;
* whose it is: a failure answered for one model counts against that
  deployment only; the provider's own circuit hears of it, but opens only on
  evidence about the provider (`routing.scope`);
* auth: the provider is marked unauthorized until its key changes; next target;
* quota (the account's credit is spent): next target, and it counts against
  the provider's circuit, as waiting or retrying here would not help;
* not found: next target; context too long: the alias's `context_fallback`;
* bad request, content policy: the request itself is wrong; answered at once,
  and never counted against anyone's health.

One deadline (the longest `timeout.total` among the targets) bounds the whole
request, retries and waits included. Targets whose circuit is open, or whose
local rate limit is spent, are skipped; when nothing else is left the request
waits for the earliest half-open probe if that comes within `routing.max_wait`
(and its deadline), else gets at once a 503 (or a 429 when rate limits are the
reason) naming each blocked target, why, and when it is retried: a request
never waits silently for long. A wait
ends early when any circuit changes state: a probe already in flight may
close its circuit long before the recovery time the wait was sized by.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from llmp.core.config_schema import ProviderConfig
from llmp.core.keys import ResolvedKey
from llmp.daemon.context import RequestContext
from llmp.daemon.deadline import within
from llmp.daemon.errors import ErrorKind, UpstreamError
from llmp.daemon.providers.base import Provider
from llmp.daemon.providers.slots import Slots
from llmp.daemon.routing.admission import Admission
from llmp.daemon.routing.breaker import BreakerRegistry, CircuitBreaker, State
from llmp.daemon.routing.clock import Clock, Sleeper, SystemClock
from llmp.daemon.routing.lanes import Lanes
from llmp.daemon.routing.resolver import Route, Target
from llmp.daemon.routing.retry import retry_delay
from llmp.daemon.routing.route_errors import (
    Blocked,
    all_blocked,
    deadline_error,
    nothing_usable,
    pool_busy,
)
from llmp.daemon.routing.scope import account_wide_limit, provider_wide
from llmp.daemon.routing.stats import StatsBook
from llmp.daemon.routing.strategies import Selector

T = TypeVar("T")
DEADLINE_SLACK = 1.0  # seconds the HTTP client's own total timeout may overrun the deadline
log = logging.getLogger("llmp.routing")

# These say the request itself is wrong: another provider would answer the same.
_FINAL = {ErrorKind.BAD_REQUEST, ErrorKind.CONTENT_POLICY}
# The client's mistake: the upstream answered sensibly (or was not even asked), so it
# counts neither for nor against anyone's health.
_CLIENT_MISTAKE = {ErrorKind.BAD_REQUEST, ErrorKind.CONTENT_POLICY, ErrorKind.CONTEXT_LENGTH}
DEFAULT_MAX_WAIT = 5.0
MAX_PROBE_WAITS = 3
MAX_BUDGETS = 1024  # routes whose deadline budget is remembered


class Router:
    def __init__(
        self, providers: dict[str, Provider], *, clock: Clock | None = None,
        sleeper: Sleeper | None = None, rng: random.Random | None = None,
        max_wait: float = DEFAULT_MAX_WAIT,
    ) -> None:
        self.providers = providers
        self.clock: Clock = clock or SystemClock()
        self.sleep: Sleeper = sleeper or self.clock.sleep
        self.rng = rng or random.Random()
        self.max_wait = max_wait  # routing.max_wait: longest wait for a probe when all are held
        self.breakers = BreakerRegistry(self.clock, lambda p: self._config(p).circuit_breaker)
        self.stats = StatsBook(self.clock)
        self.selector = Selector(self.stats, lambda p: self._config(p).weight, self.rng)
        self.disabled: set[str] = set()  # taken out of rotation at run time (`llmp providers disable`)
        self.lanes = Lanes(self.breakers, self.stats, lambda p: self._config(p).rate_limit, self.clock)
        self._unauthorized: dict[str, ResolvedKey] = {}
        self._budgets: dict[str, tuple[Route, float]] = {}  # per route, while it is the same route
        self._probe_waiters: set[asyncio.Future[None]] = set()
        self.breakers.observers.append(self._circuit_moved)

    def take_over(self, previous: Router) -> None:
        """Succeed `previous` after a config reload.

        Requests it admitted may still be running on the providers they started
        with; each carries its admission (`RequestContext.admission`), so
        `finished` here settles it on the breakers, limiter and statistics it
        took them from. Providers switched off at run time stay off while they
        are still configured.
        """
        self.disabled = {name for name in previous.disabled if name in self.providers}

    def _config(self, provider: str) -> ProviderConfig:
        return self.providers[provider].config

    # -- provider status ----------------------------------------------------------

    def mark_unauthorized(self, provider: Provider) -> None:
        """Hold a provider whose key was rejected out of rotation until the key changes.

        A provider without a key of its own (credentials from a token command,
        or none at all) manages its credentials itself and is not held out.
        """
        if not provider.key.present:
            return
        if provider.name not in self._unauthorized:
            log.warning("provider %s rejected its API key; out of rotation until the key changes",
                        provider.name)
        self._unauthorized[provider.name] = provider.key

    def is_unauthorized(self, provider: Provider) -> bool:
        marked = self._unauthorized.get(provider.name)
        if marked is None:
            return False
        if marked != provider.key:
            del self._unauthorized[provider.name]
            log.info("provider %s has a new API key; back in rotation", provider.name)
            return False
        return True

    def usable(self, targets: Sequence[Target]) -> list[Target]:
        chosen = []
        refused = self._unauthorized  # usually empty: no key check per target then
        for target in targets:
            provider = self.providers.get(target.provider)
            if (provider is not None and provider.config.enabled
                    and target.provider not in self.disabled
                    and not (refused and self.is_unauthorized(provider))):
                chosen.append(target)
        return chosen

    # -- the attempt loop ---------------------------------------------------------

    async def run(
        self,
        route: Route,
        ctx: RequestContext,
        attempt: Callable[[Provider, Target], Awaitable[T]],
        *,
        tokens: Callable[[], int] | None = None,
    ) -> T:
        deadline = self.clock.now() + self._budget(route)
        pending = self.usable(route.targets)
        if len(pending) > 1:  # one target needs no ordering (most routes: a provider/model asked for)
            pending = self.selector.order(route.strategy, route.requested, pending)
        context_fallback = list(route.context_fallback)
        last: UpstreamError | None = None
        waits = 0
        while True:
            admission, blocked = self._admit_first(pending, tokens)
            if admission is not None:
                pending.remove(admission.target)
                try:
                    return await self._serve(admission, ctx, attempt, deadline)
                except UpstreamError as error:
                    last = error
                    if error.kind in _FINAL:
                        raise
                    if error.kind is ErrorKind.CONTEXT_LENGTH and context_fallback:
                        pending = self.usable(context_fallback)
                        context_fallback = []
                    continue
            if not blocked:
                raise last or self._nothing_usable(route, ctx)
            probes = [b.wait for b in blocked if not b.rate_limited]
            soonest = min(probes, default=0.0)
            if soonest > self.max_wait and any(b.probing for b in blocked):
                soonest = self.max_wait  # a probe in flight: its verdict may come any moment
            if (probes and waits < MAX_PROBE_WAITS and 0 < soonest <= self.max_wait
                    and self.clock.now() + soonest < deadline):
                if not await self._wait_for_probe(soonest):
                    waits += 1  # only a wait that ran out counts: any circuit's move wakes all
                pending = [b.target for b in blocked]
                continue
            raise all_blocked(route, blocked, last, ctx.failures)

    async def _wait_for_probe(self, seconds: float) -> bool:
        """Sleep until a circuit may admit again: `seconds`, or sooner if one changes state
        (then True)."""
        changed = asyncio.get_running_loop().create_future()
        self._probe_waiters.add(changed)
        sleeping = asyncio.ensure_future(self.sleep(seconds))
        try:
            await asyncio.wait((changed, sleeping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._probe_waiters.discard(changed)
            sleeping.cancel()
        return changed.done()

    def _circuit_moved(self, breaker: CircuitBreaker, old: State, new: State) -> None:
        waiters, self._probe_waiters = self._probe_waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _admit_first(
        self, pending: list[Target], tokens: Callable[[], int] | None
    ) -> tuple[Admission | None, list[Blocked]]:
        blocked: list[Blocked] = []
        for target in pending:
            admission, held = self._admit(target, tokens)
            if admission is not None:
                return admission, []
            assert held is not None
            blocked.append(held)
        return None, blocked

    def _admit(
        self, target: Target, tokens: Callable[[], int] | None
    ) -> tuple[Admission | None, Blocked | None]:
        """Ask the deployment's breaker, the provider's breaker and the rate limits, in that order.

        A closed circuit's ticket and a free limiter's yes are taken without a
        call: this runs for every request, nearly always with nothing to refuse.
        """
        known = self.lanes.known
        key = (target.provider, target.model)
        lane = known.get(key)
        if lane is None:
            lane = self.lanes.make(target)
        else:
            known.move_to_end(key)  # the least recently used lane is the one forgotten first
        deployment, provider_breaker = lane.deployment, lane.provider_breaker
        deployment_ticket = deployment.closed_ticket
        if deployment_ticket is None:
            deployment_ticket = deployment.allow()
            if deployment_ticket is None:
                return None, Blocked(target, False, deployment.next_probe_in(),
                                     "circuit open: this model keeps failing",
                                     deployment.state is State.HALF_OPEN)
        provider_ticket = provider_breaker.closed_ticket
        if provider_ticket is None:
            provider_ticket = provider_breaker.allow()
            if provider_ticket is None:
                deployment.release(deployment_ticket)
                return None, Blocked(target, False, provider_breaker.next_probe_in(),
                                     f"circuit open: provider '{target.provider}' is failing",
                                     provider_breaker.state is State.HALF_OPEN)
        if lane.blocked_until:
            wait = lane.blocked_until - self.clock.now()
            if wait > 0:
                deployment.release(deployment_ticket)
                provider_breaker.release(provider_ticket)
                return None, Blocked(target, True, wait, "rate limited by the upstream")
            lane.blocked_until = 0.0  # passed: not asked again
        limiter = lane.limiter
        estimate = 0
        if not limiter.free or limiter.blocked_until:
            estimate = tokens() if tokens is not None and limiter.counts_tokens else 0
            if not limiter.acquire(estimate):
                deployment.release(deployment_ticket)
                provider_breaker.release(provider_ticket)
                reason = ("rate limited by the upstream (the whole account)"
                          if limiter.blocked_until > self.clock.now() else "at its local rate limit")
                return None, Blocked(target, True, limiter.wait_time(estimate), reason)
        provider = self.providers[target.provider]
        return Admission(provider, target, lane, deployment_ticket, provider_ticket, estimate), None

    async def _serve(
        self, admission: Admission, ctx: RequestContext,
        attempt: Callable[[Provider, Target], Awaitable[T]], deadline: float,
    ) -> T:
        """Try one deployment, retrying transient failures within its own retry budget."""
        provider, target = admission.provider, admission.target
        retry = 0
        while True:
            ctx.attempts += 1
            ctx.provider, ctx.model = provider.name, target.model
            ctx.tried.append((provider.name, target.model))
            admission.lane.stats.in_flight += 1
            admission.started = self.clock.now()
            if provider.key_missing:  # never call an upstream without its key; say how to set one
                self._settle(admission, None, ok=None)
                raise provider.missing_key_error()
            slots = provider.http.slots
            if not slots.take_now():
                deadline += await self._wait_for_slot(admission, slots, deadline)
            admission.slots = slots
            remaining = deadline - admission.started
            try:
                if remaining >= provider.config.timeout.total - DEADLINE_SLACK:
                    # A first attempt: the deadline was set a moment ago and is about the
                    # provider's own total timeout, which its HTTP client enforces already.
                    result = await attempt(provider, target)
                else:
                    result = await self._bounded(attempt(provider, target), provider, remaining)
            except UpstreamError as error:
                failure = error
            except BaseException:
                self._settle(admission, None, ok=None)
                raise
            else:
                admission.first = self.clock.now() - admission.started
                ctx.admission = admission
                return result
            failure.provider = failure.provider or provider.name
            self._failed(admission, failure, ctx)
            if not failure.kind.transient:
                raise failure
            delay = retry_delay(provider.config.retry, retry, failure.retry_after,
                                deadline - self.clock.now(), self.rng)
            if delay is None:
                raise failure
            await self.sleep(delay)
            retry += 1
            def same_estimate(tokens: int = admission.tokens) -> int:
                return tokens

            again, _ = self._admit(target, same_estimate)
            if again is None:
                raise failure
            admission = again

    async def _wait_for_slot(self, admission: Admission, slots: Slots, deadline: float) -> float:
        """Wait for a connection of a provider whose pool is busy; the seconds waited.

        The wait is no failure of the upstream, which has not been asked yet: it
        starts none of its timers (the deadline moves by the time waited) and
        tells its circuit nothing. A pool still busy at the deadline is a 503 and
        the route's next target is tried.
        """
        started = self.clock.now()
        try:
            await within(deadline - started, slots.take())
        except asyncio.TimeoutError:
            self._settle(admission, None, ok=None)
            raise pool_busy(admission.provider.name, slots.size) from None
        except BaseException:
            self._settle(admission, None, ok=None)
            raise
        admission.started = self.clock.now()
        return admission.started - started

    async def _bounded(self, call: Awaitable[T], provider: Provider, remaining: float) -> T:
        """Hold a later attempt to what is left of the request's deadline."""
        if remaining <= 0:
            if asyncio.iscoroutine(call):
                call.close()
            raise deadline_error(provider.name)
        try:
            return await within(remaining, call)
        except asyncio.TimeoutError:
            raise deadline_error(provider.name) from None

    def _failed(self, admission: Admission, error: UpstreamError, ctx: RequestContext) -> None:
        kind = error.kind
        name = admission.provider.name
        detail = f" ({error.code})" if error.code else ""
        ctx.failures.append(f"{admission.target.qualified}: {kind.value}{detail}")
        log.info("attempt on %s failed: %s (%s)", admission.target.qualified, kind.value,
                 error.status)
        if kind is ErrorKind.AUTH:
            self.mark_unauthorized(admission.provider)
        if kind is ErrorKind.RATE_LIMITED and error.retry_after:
            if account_wide_limit(error, admission.target.model):
                self.lanes.limiter(name).block_for(error.retry_after)
            else:
                lane = admission.lane
                lane.blocked_until = max(lane.blocked_until, self.clock.now() + error.retry_after)
        if kind in _CLIENT_MISTAKE:
            # Upstream answered sensibly: a good sign for a half-open probe, no failure.
            # Refused before it was sent (an unsupported operation): nothing to say.
            answered = error.code != "unsupported_operation"
            self._settle(admission, True if answered else None, ok=None)
            return
        verdict = False if kind.unhealthy or kind is ErrorKind.NOT_FOUND else None
        source = None if provider_wide(error) else admission.target.model
        self._settle(admission, verdict, ok=False, error=error.message, source=source)

    def finished(self, ctx: RequestContext) -> None:
        """The request that an admission served has ended: settle its breakers, budget and stats."""
        admission = ctx.admission
        if admission is None:
            return
        ctx.admission = None
        usage = ctx.usage or {}
        actual = usage.get("total_tokens") if isinstance(usage.get("total_tokens"), int) else None
        verdict = None if ctx.status == 499 else ctx.error_kind is None
        self._settle(admission, verdict, ok=verdict, error=ctx.error_message, actual=actual,
                     served=True, stream=ctx.stream, source=admission.target.model)

    def _settle(
        self, admission: Admission, verdict: bool | None, *, ok: bool | None,
        error: str | None = None, actual: int | None = None, served: bool = False,
        stream: bool = False, source: str | None = None,
    ) -> None:
        """Give back what the admission took and record how it went.

        `verdict` is for the breakers and `ok` for the statistics; None means
        there is nothing to say (the client went away first). `source` is the
        model a failure belongs to, None when it is the provider's (`routing.scope`).
        """
        lane = admission.lane
        if admission.slots is not None:
            admission.slots.give()
            admission.slots = None
        if not lane.limiter.free:
            lane.limiter.release(admission.tokens, actual)
        deployment, provider_breaker = lane.deployment, lane.provider_breaker
        if verdict is None:
            deployment.release(admission.deployment_ticket)
            provider_breaker.release(admission.provider_ticket)
        elif not (verdict and deployment.ignores_success and provider_breaker.ignores_success):
            deployment.record(admission.deployment_ticket, verdict)
            provider_breaker.record(admission.provider_ticket, verdict, source)
        stats = lane.stats
        stats.in_flight -= 1
        now = self.clock.now()
        if ok is None:
            return
        latency: float | None = None
        ttft: float | None = None
        if served:
            total = now - admission.started
            latency, ttft = (total, admission.first) if stream else (admission.first, None)
        stats.record(now, ok, latency, ttft, None if ok else error)

    # -- the route as a whole: its deadline, and why nothing could be tried ---------

    def _budget(self, route: Route) -> float:
        """The request's deadline budget: the longest total timeout among the route's targets."""
        known = self._budgets.get(route.requested)
        if known is not None and known[0] is route:
            return known[1]
        totals = [
            self.providers[t.provider].config.timeout.total
            for t in (*route.targets, *route.context_fallback) if t.provider in self.providers
        ]
        budget = max(totals, default=600.0)
        if len(self._budgets) >= MAX_BUDGETS:
            self._budgets.clear()
        self._budgets[route.requested] = (route, budget)
        return budget

    def _nothing_usable(self, route: Route, ctx: RequestContext) -> UpstreamError:
        """Why no target could even be tried (see `route_errors.nothing_usable`)."""
        disabled: list[str] = []
        refused: list[Provider] = []
        for target in route.targets:
            provider = self.providers.get(target.provider)
            if provider is None or not provider.config.enabled:
                continue
            if target.provider in self.disabled:
                disabled.append(target.provider)
            elif self.is_unauthorized(provider):
                refused.append(provider)
        return nothing_usable(route, ctx, disabled, refused)
