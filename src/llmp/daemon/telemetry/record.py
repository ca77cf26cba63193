"""A finished request as every telemetry sink sees it, made once per request.

The access log, the metrics, the usage ledger and the live stats all want the
same facts (who answered, how long it took, what it used and cost); working
them out once, into one tuple, keeps the event loop's share of telemetry to a
few field reads. Each sink turns the record into its own shape: the log
writer and the ledger writer on their threads, the live stats only when
someone asks for them.
"""

from __future__ import annotations

import time
from typing import NamedTuple

from llmp.daemon.context import RequestContext
from llmp.daemon.telemetry.usage import Tokens


class Finished(NamedTuple):
    started: float  # Unix time the request arrived
    request_id: str
    client_key: str | None
    inbound: str  # the client's wire format
    operation: str
    requested_model: str
    alias: str | None
    provider: str | None  # who answered (or was tried last)
    model: str | None
    tokens: Tokens | None  # None when nothing answered
    cost: float | None  # US dollars; None when the model has no price
    latency: float  # seconds from arrival to the last byte
    ttfb: float | None  # seconds from arrival to the first byte, if one was sent
    status: int
    error_kind: str | None
    attempts: int
    stream: bool
    failures: list[str] | None  # "provider/model: kind" per failed attempt, if any failed
    dropped_tools: str | None = None  # tools left out of the upstream request (Responses API)
    cache: str | None = None  # what the response cache did (hit | miss | refresh | bypass)
    saved: float | None = None  # US dollars a cache hit did not spend (its cost is 0)


def finished(ctx: RequestContext, tokens: Tokens | None, cost: float | None) -> Finished:
    """The record of a request that has ended (`ctx.finished_at` is set).

    A cache hit costs nothing; what the answer cost when it was bought is what it saved.
    """
    saved = None
    if ctx.cache == "hit":
        saved, cost = cost, 0.0
    started = ctx.started
    latency = (ctx.finished_at or time.monotonic()) - started
    first = ctx.first_byte_at
    return _new(Finished, (
        time.time() - latency, ctx.request_id, ctx.client_key, ctx.inbound, ctx.operation,
        ctx.requested_model, ctx.alias, ctx.provider, ctx.model, tokens, cost, latency,
        None if first is None else first - started, ctx.status, ctx.error_kind, ctx.attempts,
        ctx.stream, ctx.failures or None, ctx.dropped_tools, ctx.cache, saved,
    ))


#: A named tuple made from a tuple of every field in one C call: its generated `__new__` is a
#: Python function, and this runs once per request.
_new = tuple.__new__
_SCALE = {digits: (1000 * 10 ** digits, 10 ** digits) for digits in (2, 3)}


def milliseconds(seconds: float | None, digits: int = 2) -> float | None:
    """Seconds as milliseconds with `digits` decimals (2 or 3).

    `round(x, digits)` goes through a decimal conversion, about ten times the
    cost of rounding to a whole number; two of these per line and per row add up.
    """
    if seconds is None:
        return None
    scale, divisor = _SCALE[digits]
    return round(seconds * scale) / divisor
