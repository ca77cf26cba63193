"""Failures the daemon knows how to name, shared by every layer.

An `UpstreamError` carries the class of the failure (`ErrorKind`), which the
router uses to decide between retrying, failing over and giving up, and the
status and message the client should see. A `ClientError` is the client's own
fault (bad input, unknown model) and is never retried.
"""

from __future__ import annotations

from enum import Enum

from llmp.core.redact import redact


class ErrorKind(str, Enum):
    RATE_LIMITED = "rate_limited"
    OVERLOADED = "overloaded"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    AUTH = "auth"
    BAD_REQUEST = "bad_request"
    NOT_FOUND = "not_found"
    CONTEXT_LENGTH = "context_length"
    CONTENT_POLICY = "content_policy"
    INCOMPLETE = "incomplete"  # the upstream ended without its terminal event
    QUOTA = "quota"  # the account's credit or quota is spent: not this request's fault

    @property
    def transient(self) -> bool:
        """Worth trying again, here or elsewhere: the same request may well succeed."""
        return self in _TRANSIENT

    @property
    def unhealthy(self) -> bool:
        """Counts against the provider's health (its circuit breakers)."""
        return self in _TRANSIENT or self is ErrorKind.QUOTA


_TRANSIENT = {
    ErrorKind.RATE_LIMITED,
    ErrorKind.OVERLOADED,
    ErrorKind.SERVER_ERROR,
    ErrorKind.TIMEOUT,
    ErrorKind.CONNECTION,
    ErrorKind.INCOMPLETE,
}

# OpenAI's `type` field for each kind, used when llmp itself phrases the error.
OPENAI_ERROR_TYPES = {
    ErrorKind.RATE_LIMITED: "rate_limit_error",
    ErrorKind.OVERLOADED: "server_error",
    ErrorKind.SERVER_ERROR: "server_error",
    ErrorKind.TIMEOUT: "timeout_error",
    ErrorKind.CONNECTION: "api_connection_error",
    ErrorKind.AUTH: "authentication_error",
    ErrorKind.BAD_REQUEST: "invalid_request_error",
    ErrorKind.NOT_FOUND: "invalid_request_error",
    ErrorKind.CONTEXT_LENGTH: "invalid_request_error",
    ErrorKind.CONTENT_POLICY: "invalid_request_error",
    ErrorKind.INCOMPLETE: "server_error",
    ErrorKind.QUOTA: "insufficient_quota",
}


class UpstreamError(Exception):
    """A provider failed, or could not be reached. `status` is what the client will see."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int = 502,
        provider: str | None = None,
        code: str | None = None,
        param: str | None = None,
        error_type: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        # Upstreams may echo the key they refused, in any field they like.
        message = redact(message)
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.provider = provider
        self.code = redact(code) if code else code
        self.param = redact(param) if param else param
        self.error_type = redact(error_type) if error_type else OPENAI_ERROR_TYPES[kind]
        self.retry_after = retry_after


class ClientError(Exception):
    """The request itself is wrong; answered with a 4xx and never retried."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        param: str | None = None,
        code: str | None = None,
        error_type: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param
        self.code = code
        self.error_type = error_type
        self.headers = headers or {}
