"""Google's error answers (`{"error": {"code", "message", "status", "details"}}`) as UpstreamErrors.

The canonical `status` names the failure better than the HTTP code does: a bad
API key is a 400 with `INVALID_ARGUMENT` and an `API_KEY_INVALID` reason, which
is an authentication problem worth failing over, not a bad request. A quota
answer says when to come back in a `RetryInfo` detail.
"""

from __future__ import annotations

from typing import Any

import orjson

from llmp.daemon.errors import ErrorKind, UpstreamError
from llmp.daemon.providers.http import kind_for_status

_KINDS = {
    "RESOURCE_EXHAUSTED": ErrorKind.RATE_LIMITED,
    "UNAVAILABLE": ErrorKind.OVERLOADED,
    "PERMISSION_DENIED": ErrorKind.AUTH,
    "UNAUTHENTICATED": ErrorKind.AUTH,
    # "User location is not supported", "enable billing": this account cannot use
    # Gemini from here, which another provider may well serve; not a bad request.
    "FAILED_PRECONDITION": ErrorKind.AUTH,
    "NOT_FOUND": ErrorKind.NOT_FOUND,
    "DEADLINE_EXCEEDED": ErrorKind.TIMEOUT,
    "INTERNAL": ErrorKind.SERVER_ERROR,
}
_STATUSES = {"RESOURCE_EXHAUSTED": 429, "UNAVAILABLE": 503, "INTERNAL": 500, "INVALID_ARGUMENT": 400}
_AUTH_REASONS = {"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "ACCESS_TOKEN_EXPIRED"}
_CONTEXT_HINTS = ("exceeds the maximum number of tokens", "input token count", "token limit")


def error_object(payload: bytes | Any) -> dict[str, Any] | None:
    """The `error` object of a Google error body (a JSON array of one is also seen)."""
    try:
        data = orjson.loads(payload) if isinstance(payload, (bytes, str)) else payload
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, list) and data:
        data = data[0]
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else None


def parse_google_error(status: int, payload: bytes, headers: Any = None) -> UpstreamError:
    error = error_object(payload)
    if error is None:
        snippet = payload[:200].decode("utf-8", "replace").strip()
        message = f"upstream answered HTTP {status}" + (f": {snippet}" if snippet else "")
        return UpstreamError(kind_for_status(status, message), message, status=status)
    return google_error(error, status)


def google_error(error: dict[str, Any], status: int | None = None) -> UpstreamError:
    """`status` is the HTTP status; a mid-stream error has none, so its own code stands in."""
    message = str(error.get("message") or "")
    canonical = str(error.get("status") or "") or None
    code = error.get("code")
    if status is None or status < 400:
        status = code if isinstance(code, int) and 400 <= code <= 599 else _STATUSES.get(
            canonical or "", 502
        )
    details = [d for d in error.get("details") or [] if isinstance(d, dict)]
    reasons = {str(d.get("reason")) for d in details if d.get("reason")}
    if reasons & _AUTH_REASONS:
        kind = ErrorKind.AUTH
    elif canonical in _KINDS:
        kind = _KINDS[canonical]
    elif canonical == "INVALID_ARGUMENT" and any(h in message.lower() for h in _CONTEXT_HINTS):
        kind = ErrorKind.CONTEXT_LENGTH
    else:
        kind = kind_for_status(status, message, canonical)
    return UpstreamError(
        kind, message or f"upstream answered HTTP {status}", status=status, code=canonical,
        retry_after=_retry_delay(details),
    )


def _retry_delay(details: list[dict[str, Any]]) -> float | None:
    for detail in details:
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = str(detail.get("retryDelay") or "")
            try:
                return max(0.0, float(delay.rstrip("s")))
            except ValueError:
                return None
    return None
