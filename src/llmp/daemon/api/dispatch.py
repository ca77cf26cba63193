"""Serving one request, whatever the client's wire format.

The router picks and retries targets; each attempt either relays the
upstream's bytes untouched (same wire format on both sides) or goes through the
canonical form. Everything up to the first byte happens inside the attempt, so
a failure there can still fail over; after it, a failure ends the stream with
an error event in the client's format. A client that goes away cancels the
handler, and closing the upstream iterator releases the upstream connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from aiohttp import web

from llmp.daemon.api.completions_bridge import (
    chat_request_from_completion,
    completion_chunks,
    completion_from_chat,
)
from llmp.daemon.api.refusals import TRACED, error_class
from llmp.daemon.api.wire import InboundFormat
from llmp.daemon.cache.policy import OPT_IN
from llmp.daemon.context import RequestContext
from llmp.daemon.deadline import within
from llmp.daemon.errors import ClientError, ErrorKind, UpstreamError
from llmp.daemon.providers.base import Forwarded, Provider
from llmp.daemon.routing.rate_limit import estimate_tokens
from llmp.daemon.routing.resolver import Target
from llmp.daemon.runtime import Runtime
from llmp.daemon.security.policy import admit
from llmp.daemon.telemetry.request_log_context import REQUEST_ID_VAR

if TYPE_CHECKING:
    from llmp.daemon.cache.service import Ticket

JSON = "application/json"
ESTIMATED = {"x-llmp-token-count": "estimate"}  # a count llmp guessed, the provider having no counter
_VIA_CHAT = frozenset({"completions", "responses"})  # served by chat when the provider has no other way


@dataclass(slots=True)
class Outcome:
    status: int = 200
    content_type: str = JSON
    body: bytes = b""
    answer: dict[str, Any] | None = None  # `body` parsed, when the relay parsed it
    first: bytes = b""
    rest: AsyncIterator[bytes] | None = None
    forwarded: Forwarded | None = None
    headers: dict[str, str] | None = None  # for the client, besides those every answer has


async def serve(
    request: web.Request, runtime: Runtime, fmt: InboundFormat, operation: str, body: dict[str, Any],
    dropped_tools: str | None = None,
) -> web.StreamResponse:
    stream = bool(body.get("stream", False))
    ctx = RequestContext(
        request_id=REQUEST_ID_VAR.get() or "",
        inbound=fmt.name,
        operation=operation,
        requested_model=body["model"],
        stream=stream,
        request_body=body,
        dropped_tools=dropped_tools,
    )
    runtime.started(ctx)
    request[TRACED] = True
    try:
        if runtime.client_auth:
            admit(request, ctx)
        route = runtime.resolver.resolve(body["model"])
        ctx.alias = route.alias
        ticket = None
        if runtime.cache is not None or OPT_IN in request.headers:  # the cache's one hook
            ticket = runtime.response_cache().ticket(request, fmt.name, operation, body, route, ctx)
            if ticket is not None and ticket.entry is not None:
                return await ticket.answer(request, runtime.finished, _headers)

        outcome = await runtime.router.run(
            route, ctx, partial(_attempt, fmt, operation, body, stream, ctx),
            tokens=lambda: estimate_tokens(body),
        )
    except (ClientError, UpstreamError) as error:
        _record_error(ctx, error)
        runtime.finished(ctx)
        failed = error_response(request, fmt, error)
        failed.headers["x-llmp-attempts"] = str(ctx.attempts)
        return failed
    except BaseException:
        ctx.status = 499
        runtime.finished(ctx)
        raise
    if not stream:
        ctx.status = outcome.status
        ctx.response_body = outcome.body
        if outcome.answer is not None:  # parsed already, to check it: no search of the bytes later
            ctx.usage = outcome.answer.get("usage")
        ctx.first_byte_at = ctx.finished_at = time.monotonic()
        runtime.finished(ctx)
        headers = _headers(ctx, outcome.content_type)
        if outcome.headers:
            headers.update(outcome.headers)
        if ticket is not None:
            ticket.keep_body(outcome.status, outcome.content_type, outcome.body, outcome.answer)
        return web.Response(body=outcome.body, status=outcome.status, headers=headers)
    return await _write_stream(request, fmt, runtime, ctx, outcome, ticket)


async def _attempt(
    fmt: InboundFormat, operation: str, body: dict[str, Any], stream: bool,
    ctx: RequestContext, provider: Provider, target: Target,
) -> Outcome:
    if operation not in provider.operations and not (
        operation in _VIA_CHAT and "chat" in provider.operations
    ) and operation != "count_tokens":  # every adapter counts, by estimate if it must
        raise provider.unsupported(operation)
    if stream:
        return await _open_stream(fmt, operation, body, ctx, provider, target)
    if fmt.name in provider.relayed_formats:
        ctx.dropped_tools = None  # a relaying upstream runs every tool itself
        forwarded = await provider.forward(operation, body, target.model, False)
        return Outcome(forwarded.status, forwarded.content_type, body=forwarded.body,
                       answer=forwarded.answer)
    answer = await _canonical_call(provider, operation, fmt.to_canonical(operation, body), target.model)
    return Outcome(body=fmt.encode_response(operation, answer),
                   headers=ESTIMATED if answer.get("estimated") else None)


async def _open_stream(
    fmt: InboundFormat, operation: str, body: dict[str, Any], ctx: RequestContext,
    provider: Provider, target: Target,
) -> Outcome:
    """A stream's upstream answer up to its first bytes, waited for no longer than the first-token timeout.

    One timer covers the upstream's headers and its first event together: the
    time to the first token is what the client waits through.
    """
    wait = provider.config.timeout.first_token
    try:
        return await within(wait, _first_bytes(fmt, operation, body, ctx, provider, target))
    except asyncio.TimeoutError:
        raise UpstreamError(
            ErrorKind.TIMEOUT,
            f"provider '{provider.name}' sent no first token within {wait:g}s",
            status=504, provider=provider.name, code="first_token_timeout",
        ) from None


async def _first_bytes(
    fmt: InboundFormat, operation: str, body: dict[str, Any], ctx: RequestContext,
    provider: Provider, target: Target,
) -> Outcome:
    forwarded: Forwarded | None = None
    if fmt.name in provider.relayed_formats:
        ctx.dropped_tools = None
        forwarded = await provider.forward(operation, body, target.model, True)
        assert forwarded.chunks is not None
        chunks = forwarded.chunks
    else:
        canonical = fmt.to_canonical(operation, body)
        events = await _canonical_stream(provider, operation, canonical, target.model)
        chunks = fmt.encode_stream(operation, _tap_usage(events, ctx), body)
    try:
        first = await chunks.__anext__()
    except StopAsyncIteration:
        raise UpstreamError(
            ErrorKind.INCOMPLETE, f"provider '{provider.name}' sent an empty stream",
            provider=provider.name,
        ) from None
    except BaseException:  # the first-token timer, among others: the upstream is let go at once
        await _close(chunks)
        raise
    return Outcome(first=first, rest=chunks, forwarded=forwarded)


async def _canonical_call(
    provider: Provider, operation: str, request: dict[str, Any], model: str
) -> dict[str, Any]:
    if operation == "embeddings":
        return await provider.embeddings(request, model)  # type: ignore[arg-type]
    if operation == "count_tokens":
        return await provider.count_tokens(request, model)  # type: ignore[arg-type]
    if operation == "completions":
        if "completions" in provider.operations:
            return await provider.completions(request, model)
        answer = await provider.chat(chat_request_from_completion(request), model)  # type: ignore[arg-type]
        return completion_from_chat(answer)  # type: ignore[arg-type]
    return await provider.chat(request, model)  # type: ignore[arg-type,return-value]


async def _canonical_stream(
    provider: Provider, operation: str, request: dict[str, Any], model: str
) -> AsyncIterator[dict[str, Any]]:
    if operation == "completions":
        chunks = await provider.chat_stream(chat_request_from_completion(request), model)  # type: ignore[arg-type]
        return completion_chunks(chunks)  # type: ignore[arg-type]
    if operation not in ("chat", "responses"):
        raise ClientError(f"streaming is not available for {operation}", param="stream")
    return await provider.chat_stream(request, model)  # type: ignore[arg-type,return-value]


async def _tap_usage(
    chunks: AsyncIterator[dict[str, Any]], ctx: RequestContext
) -> AsyncIterator[dict[str, Any]]:
    async for chunk in chunks:
        ctx.stream_events += 1
        if chunk.get("usage"):
            ctx.usage = chunk["usage"]
        yield chunk


async def _write_stream(
    request: web.Request, fmt: InboundFormat, runtime: Runtime,
    ctx: RequestContext, outcome: Outcome, ticket: Ticket | None = None,
) -> web.StreamResponse:
    headers = _headers(ctx, "text/event-stream")
    if ticket is not None:
        outcome.rest = ticket.tap(outcome.first, outcome.rest)  # type: ignore[arg-type]
    headers["Cache-Control"] = "no-cache"
    headers["X-Accel-Buffering"] = "no"
    response = web.StreamResponse(status=200, headers=headers)
    ctx.status = 200
    try:
        try:
            await response.prepare(request)
            ctx.first_byte_at = time.monotonic()
            await _send(response, outcome)
        except UpstreamError as error:
            _record_error(ctx, error)
            await response.write(fmt.stream_error(error))
    except ConnectionResetError:  # the client left before the loop cancelled this handler
        _client_gone(ctx)
        return response
    except asyncio.CancelledError:
        _client_gone(ctx)
        raise
    finally:
        await _close(outcome.rest)
        if outcome.forwarded is not None and outcome.forwarded.usage:
            ctx.usage = outcome.forwarded.usage
        if outcome.forwarded is not None:
            ctx.stream_events = outcome.forwarded.events
        ctx.finished_at = time.monotonic()
        runtime.finished(ctx)
    if ticket is not None:
        ticket.keep_stream(outcome.forwarded)
    with contextlib.suppress(ConnectionResetError):  # gone right after its last event: answered
        await response.write_eof()
    return response


async def _send(response: web.StreamResponse, outcome: Outcome) -> None:
    """Write the stream to the client up to and including its terminal event.

    A relay stops at the upstream's terminal event rather than at the end of
    its body: the client has its whole answer then, and may hang up at once
    (closing the relay hands the upstream connection back, see `release_stream`).
    """
    assert outcome.rest is not None
    forwarded = outcome.forwarded
    await response.write(outcome.first)
    if forwarded is not None and forwarded.ended:
        return
    async for chunk in outcome.rest:
        await response.write(chunk)
        if forwarded is not None and forwarded.ended:
            return


async def _close(chunks: AsyncIterator[Any]) -> None:
    close = getattr(chunks, "aclose", None)
    if close is not None:
        await close()


def _client_gone(ctx: RequestContext) -> None:
    """A client hanging up is an ordinary end, recorded as such (499), never as a daemon fault."""
    ctx.status = 499
    ctx.error_kind = "client_disconnected"


def _record_error(ctx: RequestContext, error: ClientError | UpstreamError) -> None:
    ctx.status = error.status
    ctx.error_kind = error.kind.value if isinstance(error, UpstreamError) else error_class(error.status)
    ctx.error_message = error.message
    ctx.finished_at = time.monotonic()


def _headers(ctx: RequestContext, content_type: str) -> dict[str, str]:
    """An answer's headers: its type, and who answered after how many attempts."""
    headers = {"Content-Type": content_type, "x-request-id": ctx.request_id,
               "x-llmp-attempts": str(ctx.attempts)}
    if ctx.provider:
        headers["x-llmp-provider"] = ctx.provider
    if ctx.model:
        headers["x-llmp-model"] = ctx.model
    if ctx.dropped_tools:
        headers["x-llmp-dropped-tools"] = ctx.dropped_tools
    if ctx.cache is not None:
        headers["x-llmp-cache"] = ctx.cache
    return headers


def error_response(
    request: web.Request, fmt: InboundFormat, error: ClientError | UpstreamError
) -> web.Response:
    headers = {"x-request-id": REQUEST_ID_VAR.get() or ""}
    if isinstance(error, ClientError):
        headers.update(error.headers)
    elif error.retry_after is not None and error.status in (429, 503, 529):
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    if isinstance(error, UpstreamError) and error.provider:
        headers["x-llmp-provider"] = error.provider
    return web.Response(
        body=fmt.error_body(error), status=error.status,
        headers={"Content-Type": JSON, **headers},
    )
