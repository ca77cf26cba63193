"""Turning the model name a client sent into the deployments that may serve it.

A client may name an alias (`smart`), a provider and model (`openai/gpt-4o`,
where the model may itself contain slashes), or a bare model that exactly one
provider lists. Anything else is a 404 naming the closest known names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llmp.core.config_schema import AliasConfig, Config
from llmp.core.suggest import close_matches
from llmp.daemon.errors import ClientError

MAX_REMEMBERED = 1024  # direct routes kept, so a request for a known name builds nothing


@dataclass(frozen=True)
class Target:
    provider: str
    model: str

    @property
    def qualified(self) -> str:
        return f"{self.provider}/{self.model}"


@dataclass(frozen=True)
class Route:
    requested: str
    targets: tuple[Target, ...]
    alias: str | None = None
    strategy: str = "fallback"
    context_fallback: tuple[Target, ...] = field(default_factory=tuple)


class Resolver:
    def __init__(self, config: Config, served: dict[str, list[str]]) -> None:
        """`served` maps each enabled provider to the models it lists ("*" = anything)."""
        self._providers = served
        self._bare: dict[str, list[str]] = {}
        for provider, models in served.items():
            for model in models:
                if model != "*":
                    self._bare.setdefault(model, []).append(provider)
        self._aliases = {
            name: self._alias_route(name, spec) for name, spec in config.models.items()
        }
        self._direct_routes: dict[str, Route] = {}  # names resolved before, kept per Resolver

    def _alias_route(self, name: str, spec: AliasConfig) -> Route:
        return Route(
            requested=name,
            targets=tuple(self._direct(t) for t in spec.targets),
            alias=name,
            strategy=spec.strategy,
            context_fallback=tuple(self._direct(t) for t in spec.context_fallback),
        )

    def _direct(self, name: str) -> Target:
        provider, _, model = name.partition("/")
        if model and provider in self._providers:
            return Target(provider, model)
        owners = self._bare.get(name, [])
        if len(owners) == 1:
            return Target(owners[0], name)
        if len(owners) > 1:
            choices = ", ".join(f"{p}/{name}" for p in owners)
            raise ClientError(
                f"The model '{name}' is served by several providers; ask for one of: {choices}",
                status=404, param="model", code="model_not_found",
            )
        raise ClientError(self._unknown_message(name), status=404, param="model",
                          code="model_not_found")

    def resolve(self, name: str) -> Route:
        route = self._aliases.get(name) or self._direct_routes.get(name)
        if route is not None:
            return route
        route = Route(requested=name, targets=(self._direct(name),))
        if len(self._direct_routes) >= MAX_REMEMBERED:  # "*" providers take any name: stay bounded
            self._direct_routes.clear()
        self._direct_routes[name] = route
        return route

    def known_names(self) -> list[str]:
        """Every name a client can ask for, as `/v1/models` lists them."""
        names = list(self._aliases)
        for provider, models in self._providers.items():
            names.extend(f"{provider}/{m}" for m in models if m != "*")
        names.extend(m for m, owners in self._bare.items() if len(owners) == 1)
        return list(dict.fromkeys(names))

    def _unknown_message(self, name: str) -> str:
        close = close_matches(name, self.known_names(), n=5, cutoff=0.4)
        message = f"The model '{name}' does not exist or is not served by any configured provider."
        if close:
            message += " Closest names: " + ", ".join(close) + "."
        elif self._providers:
            message += " Ask for provider/model, e.g. " + ", ".join(
                f"{p}/..." for p in list(self._providers)[:5]
            ) + "."
        return message
