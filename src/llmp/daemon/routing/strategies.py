"""The order in which an alias's targets are tried.

A strategy only orders: the first target is the one it prefers, the rest
follow as fallbacks, and the router skips any that are open or out of budget.

* fallback: as written.
* weighted: random, in proportion to each provider's `weight`.
* round_robin: each request starts one target further along.
* least_busy: fewest requests in flight first.
* lowest_latency: lowest moving average of latency (time to first token for
  streams) first; a target never measured goes first, so it gets measured.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from typing import TypeVar

from llmp.daemon.routing.resolver import Target
from llmp.daemon.routing.stats import StatsBook

T = TypeVar("T", bound=Target)


class Selector:
    def __init__(self, stats: StatsBook, weight_of: Callable[[str], float],
                 rng: random.Random | None = None) -> None:
        self._stats = stats
        self._weight_of = weight_of
        self._rng = rng or random.Random()
        self._turns: dict[str, itertools.count[int]] = {}

    def order(self, strategy: str, key: str, targets: Sequence[T]) -> list[T]:
        if len(targets) < 2 or strategy == "fallback":
            return list(targets)
        if strategy == "weighted":
            return self._weighted(targets)
        if strategy == "round_robin":
            turn = next(self._turns.setdefault(key, itertools.count())) % len(targets)
            return [*targets[turn:], *targets[:turn]]
        if strategy == "least_busy":
            return sorted(targets, key=lambda t: self._stats.get(t.provider, t.model).in_flight)
        if strategy == "lowest_latency":
            return sorted(targets, key=self._latency)
        raise ValueError(f"unknown strategy {strategy!r}")

    def _latency(self, target: Target) -> float:
        ewma = self._stats.get(target.provider, target.model).ewma
        return -1.0 if ewma is None else ewma

    def _weighted(self, targets: Sequence[T]) -> list[T]:
        """Weighted sampling without replacement (Efraimidis-Spirakis keys)."""
        keyed = [
            (self._rng.random() ** (1.0 / self._weight_of(t.provider)), index)
            for index, t in enumerate(targets)
        ]
        return [targets[index] for _, index in sorted(keyed, reverse=True)]
