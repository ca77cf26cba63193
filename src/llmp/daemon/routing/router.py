"""The attempt loop: try the route's targets until one answers.

Failures are only retried before the first byte has reached the client: the
`attempt` callable does everything up to and including the first byte of a
stream, so an `UpstreamError` raised from it can still be acted on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from llmp.daemon.context import RequestContext
from llmp.daemon.errors import ErrorKind, UpstreamError
from llmp.daemon.providers.base import Provider
from llmp.daemon.routing.resolver import Route, Target

T = TypeVar("T")

# These say the request itself is wrong: another provider would answer the same.
_FINAL = {ErrorKind.BAD_REQUEST, ErrorKind.CONTENT_POLICY}


class Router:
    def __init__(self, providers: dict[str, Provider]) -> None:
        self.providers = providers

    def candidates(self, route: Route) -> list[tuple[Provider, Target]]:
        chosen = []
        for target in route.targets:
            provider = self.providers.get(target.provider)
            if provider is not None and provider.config.enabled:
                chosen.append((provider, target))
        return chosen

    async def run(
        self,
        route: Route,
        ctx: RequestContext,
        attempt: Callable[[Provider, Target], Awaitable[T]],
    ) -> T:
        candidates = self.candidates(route)
        if not candidates:
            raise UpstreamError(
                ErrorKind.OVERLOADED,
                f"no enabled provider can serve '{route.requested}'",
                status=503,
            )
        last: UpstreamError | None = None
        for provider, target in candidates:
            ctx.attempts += 1
            ctx.provider, ctx.model = provider.name, target.model
            try:
                return await attempt(provider, target)
            except UpstreamError as error:
                error.provider = error.provider or provider.name
                last = error
                if error.kind in _FINAL:
                    break
        assert last is not None
        raise last
