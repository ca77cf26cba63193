"""Which requests the cache serves and stores, from the config and the request's headers.

The config says it per route: an alias's own `cache:` wins; otherwise each
provider's `cache:`; otherwise `cache.enabled`. A route is looked up when any
of its targets may be cached; an answer is stored only when the provider that
gave it may be (or the alias says so). A request then says its own part:
`x-llmp-cache: on` opts in where the config leaves the cache off,
`Cache-Control: no-store` (or `x-llmp-cache: off`) neither reads nor writes,
`Cache-Control: no-cache` asks upstream and refreshes the entry, and
`x-llmp-cache-ttl: SECONDS` sets how old an answer may be and how long the
new one is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from multidict import CIMultiDictProxy

from llmp.core.config_schema import Config
from llmp.daemon.errors import ClientError
from llmp.daemon.routing.resolver import Route

OPT_IN = "x-llmp-cache"
TTL_HEADER = "x-llmp-cache-ttl"
MAX_ROUTES = 1024  # routes whose verdict is remembered


@dataclass(frozen=True, slots=True)
class Wish:
    """What a request asked of the cache."""

    read: bool
    write: bool
    ttl: float | None
    forced: bool = False  # asked for by the request where the config leaves the cache off


BYPASS = Wish(read=False, write=False, ttl=None)
READ_WRITE = Wish(read=True, write=True, ttl=None)  # a request that says nothing of the cache


class Policy:
    def __init__(self, config: Config) -> None:
        self.enabled = config.cache.enabled
        self.ttl = config.cache.ttl
        self._providers = {name: spec.cache for name, spec in config.providers.items()}
        self._aliases = {name: spec.cache for name, spec in config.models.items()}
        #: Per `forced`, the verdict for each route by its name (a route's hash walks all its
        #: targets; its name's is cached), held with the route it was given for.
        self._verdicts: tuple[dict[str, tuple[Route, bool]], ...] = ({}, {})

    @property
    def anything(self) -> bool:
        """Whether the config turns the cache on anywhere (else only a request can)."""
        return self.enabled or any(self._providers.values()) or any(self._aliases.values())

    def provider_allows(self, provider: str | None, alias: str | None, forced: bool = False) -> bool:
        """An explicit `cache:` on the alias, then on the provider, wins over the default."""
        own = self._aliases.get(alias) if alias is not None else None
        if own is not None:
            return own
        setting = self._providers.get(provider) if provider is not None else None
        return (self.enabled or forced) if setting is None else setting

    def route_allows(self, route: Route, forced: bool = False) -> bool:
        verdicts = self._verdicts[forced]
        known = verdicts.get(route.requested)
        if known is not None and known[0] is route:
            return known[1]
        verdict = any(self.provider_allows(t.provider, route.alias, forced) for t in route.targets)
        if len(verdicts) >= MAX_ROUTES:
            verdicts.clear()
        verdicts[route.requested] = (route, verdict)
        return verdict

    def wish(self, headers: CIMultiDictProxy[str], route: Route) -> Wish | None:
        """What this request wants, or None when the cache has no part in it."""
        opted = headers.get(OPT_IN)
        control = headers.get("Cache-Control")
        raw_ttl = headers.get(TTL_HEADER)
        if opted is None and control is None and raw_ttl is None:  # nearly every request
            return READ_WRITE if self.route_allows(route) else None
        opted = (opted or "").strip().lower()
        if opted in ("off", "no", "false", "0"):
            return BYPASS
        forced = opted in ("on", "yes", "true", "1")
        if not self.route_allows(route, forced):
            return BYPASS if forced else None
        directives = {part.strip().split("=", 1)[0].lower() for part in (control or "").split(",")}
        if "no-store" in directives:
            return BYPASS
        ttl = _ttl(raw_ttl)
        if ttl == 0:
            return BYPASS
        return Wish(read="no-cache" not in directives, write=True, ttl=ttl, forced=forced)


def _ttl(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        value = -1.0
    if not 0 <= value <= 10 * 365 * 86_400 or value != value:
        raise ClientError(f"{TTL_HEADER} must be a number of seconds, not {raw[:40]!r}",
                          param=TTL_HEADER, code="invalid_cache_ttl")
    return value
