"""Why a route as a whole could not be served: what the client hears when no target
could be tried, when every target was held back, or when the request ran out of time.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmp.core.keys import key_advice
from llmp.daemon.context import RequestContext
from llmp.daemon.errors import ErrorKind, UpstreamError
from llmp.daemon.providers.base import Provider
from llmp.daemon.routing.resolver import Route, Target


@dataclass(slots=True)
class Blocked:
    """A target its breakers or its rate limiter held back, and for how long."""

    target: Target
    rate_limited: bool
    wait: float
    reason: str = "circuit open"
    probing: bool = False  # half-open with its probe out: a verdict may come any moment


def nothing_usable(
    route: Route, ctx: RequestContext, disabled: list[str], refused: list[Provider]
) -> UpstreamError:
    """No target could even be tried: some providers are `disabled`, some `refused` their key.

    When rejected keys are the only reason, the client hears it as the
    authentication error it is (401), not as an outage.
    """
    if refused and not disabled:
        names = list(dict.fromkeys(p.name for p in refused))
        ctx.provider = names[0]
        first = refused[0]
        return UpstreamError(
            ErrorKind.AUTH,
            f"provider {', '.join(repr(n) for n in names)} rejected its API key; "
            f"{key_advice(first.name, first.config, first.key)}",
            status=401, provider=names[0], code="invalid_api_key",
        )
    reasons = [f"'{name}' is disabled" for name in dict.fromkeys(disabled)]
    reasons += [f"'{name}' rejected its API key" for name in dict.fromkeys(p.name for p in refused)]
    detail = f" ({'; '.join(reasons)})" if reasons else ""
    return UpstreamError(
        ErrorKind.OVERLOADED, f"no enabled provider can serve '{route.requested}'{detail}",
        status=503, code="no_provider",
    )


def all_blocked(
    route: Route, blocked: list[Blocked], last: UpstreamError | None, failures: list[str]
) -> UpstreamError:
    """Every target is held back: a 429 when rate limits are why, else a 503.

    The message names each blocked target, why it is held back and when it is
    retried, so a person reading it (or `llmp chat`'s stderr) knows what to
    wait for; `retry_after` becomes the answer's Retry-After header.
    """
    after = ""
    if last is not None:  # targets tried in this request before the rest were found held back
        tried = ", ".join(dict.fromkeys(failures))
        after = f"; tried {tried}: {last.message}"
    held = "; ".join(f"{b.target.qualified} ({b.reason}; retried in {b.wait:.1f}s)"
                     for b in blocked)
    limited = [b.wait for b in blocked if b.rate_limited]
    if limited:
        return UpstreamError(
            ErrorKind.RATE_LIMITED,
            f"every target for '{route.requested}' is held back: {held}{after}",
            status=429, code="rate_limit_exceeded", retry_after=min(limited),
        )
    return UpstreamError(
        ErrorKind.OVERLOADED,
        f"every target for '{route.requested}' is held back: {held}{after}",
        status=503, code="circuit_open", retry_after=min(b.wait for b in blocked),
    )


def deadline_error(provider: str) -> UpstreamError:
    return UpstreamError(
        ErrorKind.TIMEOUT, "the request ran out of time across its retries",
        status=504, provider=provider, code="deadline_exceeded",
    )


def pool_busy(provider: str, size: int) -> UpstreamError:
    """Every connection to a provider stayed busy until the request's deadline."""
    return UpstreamError(
        ErrorKind.OVERLOADED,
        f"all {size} connections to provider '{provider}' stayed busy (rate_limit.max_concurrent)",
        status=503, provider=provider, code="connections_busy",
    )
