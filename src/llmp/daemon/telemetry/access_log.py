"""One log line per request, with what a person needs to understand it later.

The telemetry thread makes each line whole (the JSON object of the file's
line, `ts` first) and queues the batch for the log writer as one item; only
the fields a client or an upstream can fill with free text are checked for
secrets (see `_mask`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from llmp.core.redact import REDACTOR, redact
from llmp.daemon.telemetry.log_queue import LINE_HEAD, Line, installed, timestamp
from llmp.daemon.telemetry.record import Finished, milliseconds
from llmp.daemon.telemetry.usage import Tokens

log = logging.getLogger("llmp.access")
_LEVEL = "info"  # as the file spells `logging.INFO`


class AccessLog:
    def requests_finished(self, records: Sequence[Finished]) -> None:
        """Make a line per record on the caller's thread (in the daemon, the telemetry thread)
        and queue them for the log writer; each line is stamped with the time its request ended."""
        if not records or not log.isEnabledFor(logging.INFO):
            return
        lines = [_line(record) for record in records]
        _mask(lines)
        queue = installed()
        if queue is not None:
            queue.put_lines(log.name, logging.INFO, lines)
            return
        for _, entry in lines:  # without the daemon's logging (tests, tools): ordinary records
            fields = {key: value for key, value in entry.items() if key not in LINE_HEAD}
            log.info(entry["msg"], extra=fields)


def _mask(lines: list[Line]) -> None:
    """Mask secrets in the lines' free text, in place: one scan of the whole batch when none has any.

    Only the message, the request id (a client may send its own) and the
    client's name can carry free text; the message holds every other field
    that can (the model names asked for and served, failed attempts, dropped
    tools), verbatim. A mask always differs from what it masks, so an
    unchanged scan means nothing to mask; a line that has something has every
    field masked. NUL, which no key shape contains, keeps a match from spanning
    two texts.
    """
    texts = [text for _, entry in lines for text in _free_text(entry)]
    joined = "\0".join(texts)
    if redact(joined) == joined:
        return
    for _, entry in lines:
        if any(redact(text) != text for text in _free_text(entry)):
            for key, value in entry.items():
                entry[key] = REDACTOR.redact_any(value)


def _free_text(entry: dict[str, Any]) -> tuple[str, ...]:
    client = entry["client_key"]
    return (entry["msg"], entry["request_id"]) if client is None else (
        entry["msg"], entry["request_id"], client)


def _line(record: Finished) -> Line:
    """When the request ended, and its access line: `ts`, `level`, `logger`, `msg`, then fields."""
    (started, request_id, client_key, inbound, operation, requested_model, alias, provider, model,
     tokens, cost, latency, ttfb, status, error_kind, attempts, stream, failures,
     dropped_tools, cache, saved) = record
    ended = started + latency
    latency_ms = milliseconds(latency)
    summary = _summary(tokens, cost, stream, attempts, error_kind, failures)
    if dropped_tools:
        summary += f" [dropped tools: {dropped_tools}]"
    if cache is not None:
        summary += f" cache={cache}"
    entry = {
        "ts": timestamp(ended),
        "level": _LEVEL,
        "logger": log.name,
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
        entry["dropped_tools"] = dropped_tools
    if cache is not None:  # the cache took part: what it did, and on a hit what it saved
        entry["cache"] = cache
        entry["cost_saved_usd"] = saved
    return ended, entry


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
