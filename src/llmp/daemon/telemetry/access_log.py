"""One log line per request, with what a person needs to understand it later."""

from __future__ import annotations

import logging

from llmp.daemon.context import RequestContext

log = logging.getLogger("llmp.access")


class AccessLog:
    def request_finished(self, ctx: RequestContext) -> None:
        usage = ctx.usage or {}
        latency = ctx.latency
        ttfb = ctx.time_to_first_byte
        log.info(
            "%s %s -> %s/%s %s",
            ctx.operation, ctx.requested_model, ctx.provider, ctx.model, ctx.status,
            extra={
                "request_id": ctx.request_id,
                "inbound": ctx.inbound,
                "alias": ctx.alias,
                "provider": ctx.provider,
                "model": ctx.model,
                "status": ctx.status,
                "error_class": ctx.error_kind,
                "latency_ms": round(latency * 1000, 2) if latency is not None else None,
                "ttft_ms": round(ttfb * 1000, 2) if ttfb is not None else None,
                "tokens_in": usage.get("prompt_tokens"),
                "tokens_out": usage.get("completion_tokens"),
                "attempts": ctx.attempts,
                "streamed": ctx.stream,
            },
        )
