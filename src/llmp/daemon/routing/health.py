"""Active health checks: a cheap real call to every provider, in the background.

At start each provider is reached: a connection to its base URL (TLS included)
is opened and closed again, so within seconds every provider is known to be
reachable or not (refused, DNS, TLS, timeout), and no request (no token, no
rate-limit budget, nothing an upstream could count) is spent on it. The first
round of real calls runs one `interval` after start. A check asks the provider's breaker
first, exactly like a user request: an open circuit gets no check until its
recovery time has passed, and the checker wakes at that very moment (not at
its next interval) to send the half-open probe, so a recovering provider or
deployment closes its circuit without any user traffic, and an open circuit
is never out for longer than its recovery time (itself capped by
`max_recovery_time`) for want of a probe. The call is the provider's models list where it has one, else a
one-token completion (streamed when the provider only streams). Deployments
whose own circuit is half-open are probed with a one-token completion too.
A check asked for now (`--check`) probes open circuits as well, at once.

A provider marked unauthorized has its key read again at each check: a key
fixed in the keyring or environment brings it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from llmp.daemon.errors import ErrorKind, UpstreamError
from llmp.daemon.providers.base import Provider
from llmp.daemon.providers.tls import upstream_tls
from llmp.daemon.routing.breaker import CircuitBreaker, State
from llmp.daemon.routing.router import Router
from llmp.daemon.routing.scope import provider_wide

log = logging.getLogger("llmp.routing")


class HealthChecker:
    def __init__(self, router: Router) -> None:
        self.router = router
        self.clock = router.clock
        self._last: dict[str, float] = {}  # provider -> when its last whole check ran
        self._started = 0.0
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0
        self._opened = asyncio.Event()  # a circuit opened: its probe may be due before the next check
        router.breakers.observers.append(self._circuit_moved)
        #: called with (provider, seconds, ok) after every check: metrics listen here
        self.observers: list[Callable[[str, float, bool], None]] = []

    def start(self) -> None:
        if self._task is None and self._enabled():
            self._started = self.clock.now()
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _enabled(self) -> list[Provider]:
        return [p for p in self.router.providers.values()
                if p.config.enabled and p.config.health_check.enabled]

    async def _loop(self) -> None:
        try:
            await self.reach()
        except Exception:  # a bug here must not keep the rounds from running
            log.exception("reaching providers at start failed")
        while True:
            while not await self._pause(self._next_due()):
                pass  # a circuit opened meanwhile: sleep again, to its probe if that comes sooner
            try:
                await self.check(due_only=True)
            except Exception:  # a bug in one round must not end the checks for good
                log.exception("health check round failed")

    async def _pause(self, seconds: float) -> bool:
        """Sleep `seconds` (then True), or until a circuit opens (then False)."""
        self._opened.clear()
        sleeping = asyncio.ensure_future(self.clock.sleep(seconds))
        opened = asyncio.ensure_future(self._opened.wait())
        try:
            await asyncio.wait((sleeping, opened), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeping.cancel()
            opened.cancel()
        return sleeping.done() and not sleeping.cancelled()

    def _circuit_moved(self, breaker: CircuitBreaker, old: State, new: State) -> None:
        if new is State.OPEN:
            self._opened.set()

    def _next_due(self) -> float:
        """Seconds until the next check is due: a provider's interval, or an open circuit's
        recovery time running out (its probe is due then)."""
        now = self.clock.now()
        due = [self._last.get(p.name, self._started) + p.config.health_check.interval - now
               for p in self._enabled()]
        due.extend(wait for _, breaker in self._circuits()
                   if breaker.state is State.OPEN and (wait := breaker.next_probe_in()) > 0)
        return max(0.0, min(due, default=60.0))

    def _circuits(self) -> list[tuple[Provider, CircuitBreaker]]:
        """The breakers of the providers checked in the background that are not closed."""
        breakers = self.router.breakers
        found = []
        for provider in self._enabled():
            own = breakers.get(provider.name)
            if own.closed_ticket is None:
                found.append((provider, own))
            found.extend((provider, b) for b in breakers.unsettled(provider.name).values())
        return found

    async def check(self, *, due_only: bool = False) -> None:
        """Probe providers: on request every enabled one; in the background those whose interval
        is up, and the deployments of any provider whose circuit turned half-open."""
        now = self.clock.now()
        if due_only:
            chosen = [p for p in self._enabled()
                      if now - self._last.get(p.name, self._started) >= p.config.health_check.interval]
            probing = {p.name: p for p, b in self._circuits() if b.state is State.HALF_OPEN}
            for provider in chosen:
                probing.pop(provider.name, None)
        else:
            chosen, probing = [p for p in self.router.providers.values() if p.config.enabled], {}
        for provider in chosen:
            self._last[provider.name] = now
        await asyncio.gather(*(self.probe(p, now=not due_only) for p in chosen),
                             *(self.probe(p, whole=False) for p in probing.values()))
        self.rounds += 1

    async def reach(self) -> None:
        """The start's check: whether each provider checked in the background can be reached."""
        await asyncio.gather(*(self._reach(p) for p in self._enabled()))

    async def _reach(self, provider: Provider) -> None:
        stats = self.router.stats.get(provider.name)
        if provider.key_missing:
            stats.checked(False, 0.0, provider.missing_key_error().message)
            return
        url = urlsplit(provider.base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            return  # nothing to reach (the mock): its state comes with its first check
        secure = url.scheme == "https"
        wait = provider.config.health_check.timeout
        started = self.clock.now()
        error = None
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(
                url.hostname, url.port or (443 if secure else 80),
                ssl=upstream_tls() if secure else None), wait)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        except asyncio.TimeoutError:
            error = f"cannot connect to {url.hostname}: no connection within {wait:g}s"
        except OSError as exc:  # refused, unreachable, DNS, TLS
            error = f"cannot connect to {url.hostname}: {exc.strerror or type(exc).__name__}"
        stats.checked(error is None, self.clock.now() - started, error)
        if error is not None:
            log.info("%s is not reachable: %s", provider.name, error)

    async def probe(self, provider: Provider, *, now: bool = False, whole: bool = True) -> None:
        """Check one provider; `now` (a person asked) probes through open circuits too.

        Not `whole`: only the provider's circuits that wait for a probe (its
        recovery time ran out before its next interval)."""
        router = self.router
        if router.is_unauthorized(provider):
            await asyncio.to_thread(provider.reload_key)
            if router.is_unauthorized(provider):
                router.stats.get(provider.name).checked(False, 0.0, "API key rejected")
                return
        if provider.key_missing:  # nothing to ask an upstream without its key
            router.stats.get(provider.name).checked(False, 0.0, provider.missing_key_error().message)
            return
        model = provider.config.health_check.model or next(
            (m for m in provider.config.models if m != "*"), None)
        if not whole and router.breakers.get(provider.name).closed_ticket is not None:
            model = None  # the provider's own circuit is closed: only its deployments wait
        elif provider.lists_models():
            await self._run(provider, None, provider.list_models(), now)
        elif model is not None:
            await self._run(provider, model, provider.probe_completion(model), now)
        waiting = (State.HALF_OPEN, State.OPEN) if now else (State.HALF_OPEN,)
        for name, breaker in list(router.breakers.unsettled(provider.name).items()):
            probed = name == model and not provider.lists_models()
            if not probed and breaker.state in waiting:
                await self._run(provider, name, provider.probe_completion(name), now)

    async def _run(self, provider: Provider, model: str | None, call: Any, now: bool) -> None:
        """Make one probe call through the breakers; record its verdict, latency and error."""
        breakers = [self.router.breakers.get(provider.name)]
        if model is not None:
            breakers.append(self.router.breakers.get(provider.name, model))
        tickets = [b.probe_now() if now else b.allow() for b in breakers]
        if None in tickets:
            call.close()
            for breaker, ticket in zip(breakers, tickets, strict=True):
                if ticket is not None:
                    breaker.release(ticket)
            return
        started = self.clock.now()
        verdict: bool | None = True
        error: str | None = None
        source = model  # a deployment's probe failing is that deployment's failure...
        try:
            await asyncio.wait_for(call, provider.config.health_check.timeout)
        except UpstreamError as failure:
            error = failure.message
            if provider_wide(failure):
                source = None  # ...unless it says something about the whole provider
            if failure.kind is ErrorKind.AUTH:
                self.router.mark_unauthorized(provider)
                verdict = None
            elif failure.kind.unhealthy:
                verdict = False
        except asyncio.TimeoutError:
            verdict, error = False, "health check timed out"
        except Exception as exc:  # any adapter failure means "not healthy"
            verdict, error = False, f"health check failed ({type(exc).__name__})"
        latency = self.clock.now() - started
        for breaker, ticket in zip(breakers, tickets, strict=True):
            assert ticket is not None
            if verdict is None:
                breaker.release(ticket)
            else:
                breaker.record(ticket, verdict, source)
        ok = verdict is True
        for observer in self.observers:
            observer(provider.name, latency, ok)
        self.router.stats.get(provider.name).checked(ok, latency, error)
        if model is not None:
            self.router.stats.get(provider.name, model).checked(ok, latency, error)
        if not ok:
            log.info("health check of %s failed: %s", provider.name, error)
