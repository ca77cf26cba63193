"""What `llmp providers health` shows: one plain dict per provider and deployment.

The state summarises breakers, checks and recent traffic for a person:
unauthorized (its key was rejected), down (circuit open, or the last check
failed with nothing good since), degraded (some circuit not closed, or more
than a tenth of recent requests failed), healthy (recent success), unknown
(no check and no traffic yet).
"""

from __future__ import annotations

from typing import Any

from llmp.daemon.providers.base import Provider
from llmp.daemon.routing.breaker import CircuitBreaker, State
from llmp.daemon.routing.router import Router

DEGRADED_ERROR_RATE = 0.1


def health_report(router: Router) -> dict[str, Any]:
    now = router.clock.now()
    providers = [_provider(router, p, now) for p in router.providers.values()]
    transitions = [
        {"circuit": name, "from": old, "to": new, "count": count}
        for (name, old, new), count in sorted(router.breakers.transitions.items())
    ]
    return {"providers": providers, "transitions": transitions}


def _provider(router: Router, provider: Provider, now: float) -> dict[str, Any]:
    name = provider.name
    stats = router.stats.provider_summary(name, now)
    breaker = router.breakers.get(name)
    deployments = []
    models = [m for m in provider.config.models if m != "*"]
    for model in dict.fromkeys([*models, *router.breakers.deployments(name),
                                *router.stats.deployments(name)]):
        d_stats = router.stats.get(name, model).summary(now)
        d_breaker = router.breakers.get(name, model)
        deployments.append({
            "model": model, "state": _state(d_stats, [d_breaker]),
            "circuit": _circuit(d_breaker), **d_stats,
        })
    breakers = [breaker, *(router.breakers.get(name, d["model"]) for d in deployments)]
    if router.is_unauthorized(provider):
        state = "unauthorized"
    else:
        state = _state(stats, breakers, provider_breaker=breaker)
    return {
        "name": name,
        "type": provider.type_name,
        "enabled": provider.config.enabled and name not in router.disabled,
        "state": state,
        "circuit": _circuit(breaker),
        **stats,
        "deployments": deployments,
    }


def _circuit(breaker: CircuitBreaker) -> dict[str, Any]:
    state = breaker.state
    circuit: dict[str, Any] = {"state": state.value}
    if state is State.OPEN:
        circuit["next_probe_in"] = round(breaker.next_probe_in(), 1)
    return circuit


def _state(stats: dict[str, Any], breakers: list[CircuitBreaker],
           provider_breaker: CircuitBreaker | None = None) -> str:
    own = provider_breaker or breakers[0]
    if own.state is State.OPEN:
        return "down"
    rate = stats["error_rate_5m"]
    if stats["last_check_ok"] is False and not stats["requests_5m"]:
        return "down"
    if any(b.state is not State.CLOSED for b in breakers) or (
        rate is not None and rate > DEGRADED_ERROR_RATE
    ):
        return "degraded"
    if stats["requests_5m"] or stats["last_check_ok"]:
        return "healthy"
    return "unknown"
