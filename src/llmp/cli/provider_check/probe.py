"""What `llmp test` asks of a provider, whichever way it reaches it.

Two probes implement this: through the daemon (HTTP, the way every client
goes) and direct (the daemon's own adapters run in this process). The checks
are written once against this interface, so a difference between the two
results is a difference between the paths, not between two test programs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

PROMPT = "Reply with the single word: OK"
EMBEDDING_INPUT = "llmp test"


def chat_request(model: str) -> dict[str, Any]:
    """The smallest useful completion: one token of a fixed prompt."""
    return {"model": model, "max_tokens": 1, "messages": [{"role": "user", "content": PROMPT}]}


class ProbeError(Exception):
    """A failed call; `kind` is one of the daemon's error kinds (auth, connection, timeout, ...)."""

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status


@dataclass
class Facts:
    """A provider as configured, and what its upstream said when asked for its models."""

    name: str
    type: str
    enabled: bool
    operations: list[str]
    models: list[str]
    key_present: bool
    key_source: str  # environment | keyring | config | none | missing
    key_state: str = ""  # the shared vocabulary: `env OPENAI_API_KEY`, `keyring`, `not needed`, ...
    key_variable: str | None = None  # the environment variable to set when the key is missing
    key_missing: bool = False  # needs a key and has none (the daemon will not call it)
    upstream_models: list[str] | None = None
    upstream_error: ProbeError | None = None
    secrets: list[str] = field(default_factory=list)  # values to mask wherever they appear


class Probe(Protocol):
    async def names(self) -> list[str]:
        """Every configured provider, enabled or not."""

    async def facts(self, provider: str) -> Facts:
        """Raises `ProbeError` only when the provider cannot be asked about at all."""

    async def complete(self, provider: str, model: str) -> None: ...

    def stream(self, provider: str, model: str) -> AsyncIterator[str]:
        """The streamed reply's text pieces ("" for events without text), to the end."""

    async def embed(self, provider: str, model: str) -> None: ...

    async def close(self) -> None: ...


_KINDS_BY_TYPE = {
    "authentication_error": "auth",
    "permission_error": "auth",
    "api_connection_error": "connection",
    "timeout_error": "timeout",
    "rate_limit_error": "rate_limited",
}


def kind_of(status: int, error_type: str | None) -> str:
    """The error kind behind an OpenAI-shaped error answer from the daemon."""
    if error_type in _KINDS_BY_TYPE:
        return _KINDS_BY_TYPE[error_type]
    if status in (401, 403):
        return "auth"
    if status == 404:
        return "not_found"
    if status in (408, 504):
        return "timeout"
    if status == 429:
        return "rate_limited"
    return "server_error" if status >= 500 else "bad_request"
