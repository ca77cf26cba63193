"""Why a route as a whole could not be served: what the client hears when no target
could be tried, when every target was held back, or when the request ran out of time.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmp.daemon.context import RequestContext
from llmp.daemon.errors import ErrorKind, UpstreamError
from llmp.daemon.routing.resolver import Route, Target


@dataclass(slots=True)
class Blocked:
    """A target its breakers or its rate limiter held back, and for how long."""

    target: Target
    rate_limited: bool
    wait: float


def nothing_usable(
    route: Route, ctx: RequestContext, disabled: list[str], refused: list[str]
) -> UpstreamError:
    """No target could even be tried: some providers are `disabled`, some `refused` their key.

    When rejected keys are the only reason, the client hears it as the
    authentication error it is (401), not as an outage.
    """
    if refused and not disabled:
        names = list(dict.fromkeys(refused))
        ctx.provider = names[0]
        return UpstreamError(
            ErrorKind.AUTH,
            f"provider {', '.join(repr(n) for n in names)} rejected its API key; set a new "
            f"one with `llmp keys set {names[0]}`",
            status=401, provider=names[0], code="invalid_api_key",
        )
    reasons = [f"'{name}' is disabled" for name in dict.fromkeys(disabled)]
    reasons += [f"'{name}' rejected its API key (set a new one)" for name in dict.fromkeys(refused)]
    detail = f" ({'; '.join(reasons)})" if reasons else ""
    return UpstreamError(
        ErrorKind.OVERLOADED, f"no enabled provider can serve '{route.requested}'{detail}",
        status=503, code="no_provider",
    )


def all_blocked(route: Route, blocked: list[Blocked], last: UpstreamError | None) -> UpstreamError:
    """Every target is held back: a 429 when rate limits are why, else a 503; both say when to retry."""
    after = f" after: {last.message}" if last is not None else ""
    limited = [b.wait for b in blocked if b.rate_limited]
    if limited:
        wait = min(limited)
        return UpstreamError(
            ErrorKind.RATE_LIMITED,
            f"every provider for '{route.requested}' is at its rate limit; "
            f"retry in {wait:.1f}s{after}",
            status=429, code="rate_limit_exceeded", retry_after=wait,
        )
    wait = min(b.wait for b in blocked)
    return UpstreamError(
        ErrorKind.OVERLOADED,
        f"every provider for '{route.requested}' is failing (circuit open); "
        f"retry in {wait:.1f}s{after}",
        status=503, code="circuit_open", retry_after=wait,
    )


def deadline_error(provider: str) -> UpstreamError:
    return UpstreamError(
        ErrorKind.TIMEOUT, "the request ran out of time across its retries",
        status=504, provider=provider, code="deadline_exceeded",
    )
