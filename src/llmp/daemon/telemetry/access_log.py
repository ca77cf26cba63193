"""One log line per request, with what a person needs to understand it later."""

from __future__ import annotations

import logging

from llmp.daemon.context import RequestContext
from llmp.daemon.telemetry.log_queue import installed
from llmp.daemon.telemetry.usage import Tokens

log = logging.getLogger("llmp.access")
MESSAGE = "%s %s -> %s/%s %s %sms%s"


class AccessLog:
    def request_finished(self, ctx: RequestContext, tokens: Tokens | None, cost: float | None) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        latency = ctx.latency
        ttfb = ctx.time_to_first_byte
        latency_ms = round(latency * 1000, 2) if latency is not None else None
        args = (ctx.operation, ctx.requested_model, ctx.provider or "-", ctx.model or "-",
                ctx.status, latency_ms, _summary(ctx, tokens, cost))
        fields = {
            "request_id": ctx.request_id,
            "inbound": ctx.inbound,
            "operation": ctx.operation,
            "requested_model": ctx.requested_model,
            "alias": ctx.alias,
            "provider": ctx.provider,
            "model": ctx.model,
            "status": ctx.status,
            "error_class": ctx.error_kind,
            "latency_ms": latency_ms,
            "ttft_ms": round(ttfb * 1000, 2) if ttfb is not None else None,
            "tokens_in": tokens.input if tokens else None,
            "tokens_out": tokens.output if tokens else None,
            "tokens_cached": tokens.cached if tokens else None,
            "tokens_estimated": tokens.estimated if tokens else None,
            "cost_usd": cost,
            "attempts": ctx.attempts,
            "streamed": ctx.stream,
            "client_key": ctx.client_key,
        }
        queue = installed()
        if queue is not None:  # the daemon: the writer thread builds the record
            queue.defer(log.name, logging.INFO, MESSAGE, args, fields)
        else:
            log.info(MESSAGE, *args, extra=fields)


def _summary(ctx: RequestContext, tokens: Tokens | None, cost: float | None) -> str:
    """The rest of the readable line: tokens, cost, how it went."""
    parts = []
    if tokens is not None:
        parts.append(f"{tokens.input}->{tokens.output} tok" + ("~" if tokens.estimated else ""))
    if cost:
        parts.append(f"${cost:.6f}")
    if ctx.stream:
        parts.append("stream")
    if ctx.attempts > 1:
        parts.append(f"{ctx.attempts} attempts")
    if ctx.error_kind:
        parts.append(ctx.error_kind)
    return (" " + " ".join(parts)) if parts else ""
