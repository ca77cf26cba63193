"""What a request cost: tokens times the model's price per million.

The shipped table (`llmp/data/prices.json`) names models as their providers
do; upstreams answer with dated names (`gpt-4o-mini-2024-07-18`,
`claude-sonnet-4-20250514`), so a model without an exact entry takes the
price of the longest known name it extends. The config's `prices:` section
wins over the table, keyed `provider/model` (one deployment) or `model`.
A provider that runs on this machine (the mock, Ollama, vLLM, LM Studio)
costs nothing unless the config prices it. Lookups are cached: the hot path
pays one dict lookup per request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from llmp.core.config_schema import PriceConfig
from llmp.daemon.telemetry.usage import Tokens

PER = 1_000_000
#: Deployments whose price is kept looked up. Model names come from clients (any name at a
#: provider serving "*"): past this many the cache starts again rather than grow.
MAX_CACHED = 4_096


@dataclass(frozen=True, slots=True)
class Price:
    input: float
    output: float
    cached_input: float

    def cost(self, tokens: Tokens) -> float:
        fresh = max(0, tokens.input - tokens.cached)
        return (fresh * self.input + tokens.cached * self.cached_input
                + tokens.output * self.output) / PER


FREE = Price(0.0, 0.0, 0.0)


def shipped_prices() -> dict[str, Price]:
    raw = json.loads(resources.files("llmp").joinpath("data/prices.json").read_text("utf-8"))
    return {name: _price(entry) for name, entry in raw["models"].items()}


class PriceTable:
    def __init__(
        self,
        overrides: dict[str, PriceConfig],
        shipped: dict[str, Price] | None = None,
        free: Callable[[str], bool] = lambda provider: False,
    ) -> None:
        self._free = free
        self._overrides = {
            name: Price(p.input, p.output, p.input if p.cached_input is None else p.cached_input)
            for name, p in overrides.items()
        }
        self._shipped = shipped_prices() if shipped is None else shipped
        # "-latest" names stand for a family: mistral-large-2411 is priced as mistral-large-latest.
        self._stems = sorted(
            ((name.removesuffix("-latest"), price) for name, price in self._shipped.items()),
            key=lambda item: len(item[0]), reverse=True,
        )
        self._cache: dict[tuple[str | None, str | None], Price | None] = {}

    def price(self, provider: str | None, model: str | None) -> Price | None:
        key = (provider, model)
        try:
            return self._cache[key]
        except KeyError:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            found = self._cache[key] = self._find(provider, model)
            return found

    def cost(self, provider: str | None, model: str | None, tokens: Tokens) -> float | None:
        price = self.price(provider, model)
        return None if price is None else price.cost(tokens)

    def _find(self, provider: str | None, model: str | None) -> Price | None:
        if not model:
            return None
        for name in (f"{provider}/{model}", model):
            if name in self._overrides:
                return self._overrides[name]
        if provider is not None and self._free(provider):
            return FREE
        tail = model.rsplit("/", 1)[-1]  # OpenRouter-style "vendor/model" too
        # ...whose versions may be dotted where the vendor writes dashes (claude-sonnet-4.5).
        for name in dict.fromkeys((model, tail, tail.replace(".", "-"))):
            if name in self._shipped:
                return self._shipped[name]
            for stem, price in self._stems:
                if name.startswith(stem + "-") or name == stem:
                    return price
        return None


def _price(entry: dict[str, Any]) -> Price:
    cached = entry.get("cached_input")
    return Price(float(entry["input"]), float(entry.get("output", 0.0)),
                 float(entry["input"] if cached is None else cached))
