"""What the router holds for an attempt it let through, until the attempt ends.

Its own module because the request's context refers to it (`RequestContext.admission`)
and the router, which makes it, refers to the context.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmp.daemon.providers.base import Provider
from llmp.daemon.providers.slots import Slots
from llmp.daemon.routing.breaker import Ticket
from llmp.daemon.routing.lanes import Lane
from llmp.daemon.routing.resolver import Target


@dataclass(slots=True)
class Admission:
    """A target let through by its breakers and rate limiter; undone exactly once."""

    provider: Provider
    target: Target
    lane: Lane
    deployment_ticket: Ticket
    provider_ticket: Ticket
    tokens: int
    started: float = 0.0
    first: float = 0.0  # seconds from attempt start to the attempt's return (first byte)
    slots: Slots | None = None  # the provider's pool, while this admission holds one of its slots
