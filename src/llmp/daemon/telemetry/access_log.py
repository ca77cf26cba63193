"""One log line per request, with what a person needs to understand it later."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from llmp.daemon.telemetry.log_queue import installed
from llmp.daemon.telemetry.record import Finished, milliseconds
from llmp.daemon.telemetry.usage import Tokens

log = logging.getLogger("llmp.access")


class AccessLog:
    def requests_finished(self, records: Sequence[Finished]) -> None:
        """Queue a batch of lines as the records themselves; `_line` makes a line of each.

        In the daemon that happens on the log writer thread; each line is
        stamped with the time its request ended.
        """
        if not records or not log.isEnabledFor(logging.INFO):
            return
        queue = installed()
        if queue is not None:
            queue.defer(log.name, logging.INFO, records, _line)
            return
        for record in records:
            _, fields = _line(record)
            log.info(fields.pop("msg"), extra=fields)


def _line(record: Finished) -> tuple[float, dict[str, Any]]:
    """When the request ended, and the access line's message and fields."""
    (started, request_id, client_key, inbound, operation, requested_model, alias, provider, model,
     tokens, cost, latency, ttfb, status, error_kind, attempts, stream, failures,
     dropped_tools, cache, saved) = record
    latency_ms = milliseconds(latency)
    summary = _summary(tokens, cost, stream, attempts, error_kind, failures)
    if dropped_tools:
        summary += f" [dropped tools: {dropped_tools}]"
    if cache is not None:
        summary += f" cache={cache}"
    fields = {
        "msg": f"{operation} {requested_model} -> {provider or '-'}/{model or '-'} {status} "
               f"{latency_ms}ms{summary}",
        "request_id": request_id,
        "inbound": inbound,
        "operation": operation,
        "requested_model": requested_model,
        "alias": alias,
        "provider": provider,
        "model": model,
        "status": status,
        "error_class": error_kind,
        "latency_ms": latency_ms,
        "ttft_ms": milliseconds(ttfb),
        "tokens_in": tokens.input if tokens else None,
        "tokens_out": tokens.output if tokens else None,
        "tokens_cached": tokens.cached if tokens else None,
        "tokens_estimated": tokens.estimated if tokens else None,
        "cost_usd": cost,
        "attempts": attempts,
        "streamed": stream,
        "client_key": client_key,
        "failures": failures,
    }
    if dropped_tools:  # only Responses requests have tools llmp may leave out
        fields["dropped_tools"] = dropped_tools
    if cache is not None:  # the cache took part: what it did, and on a hit what it saved
        fields.update(cache=cache, cost_saved_usd=saved)
    return started + latency, fields


def _summary(tokens: Tokens | None, cost: float | None, stream: bool, attempts: int,
             error_kind: str | None, failures: list[str] | None) -> str:
    """The rest of the readable line: tokens, cost, how it went.

    Failed attempts are named with their class even when a later one succeeded:
    a request that was served only after a fail-over says why it needed one.
    """
    parts = []
    if tokens is not None:
        parts.append(f"{tokens.input}->{tokens.output} tok" + ("~" if tokens.estimated else ""))
    if cost:
        parts.append(f"${cost:.6f}")
    if stream:
        parts.append("stream")
    if attempts > 1:
        parts.append(f"{attempts} attempts")
    if error_kind:
        parts.append(error_kind)
    if failures:
        parts.append(f"[failed: {', '.join(failures)}]")
    return (" " + " ".join(parts)) if parts else ""
