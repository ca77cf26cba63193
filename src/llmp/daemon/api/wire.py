"""What differs between the inbound wire formats the daemon speaks.

`dispatch` serves every inbound format the same way; an `InboundFormat` says
how this client's requests become canonical, how canonical answers and stream
chunks are written back, and what its errors look like.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from llmp.daemon.errors import ClientError, UpstreamError


class InboundFormat(Protocol):
    name: str

    def to_canonical(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        """The client's body as an OpenAI-shaped request (a stream asking for usage)."""

    def encode_response(self, operation: str, response: dict[str, Any]) -> bytes:
        """A canonical (OpenAI-shaped) answer in the client's format."""

    def encode_stream(
        self, operation: str, chunks: AsyncIterator[dict[str, Any]], body: dict[str, Any]
    ) -> AsyncIterator[bytes]:
        """Canonical stream chunks as the client's stream events, terminal event included.

        `body` is what the client sent: what it asked of the stream. The chunks
        always end with the provider's usage (the canonical request asks for it,
        for the ledger); a format whose client did not ask for it leaves it out.
        """

    def error_body(self, error: ClientError | UpstreamError) -> bytes:
        """An error answer in the client's shape."""

    def stream_error(self, error: UpstreamError) -> bytes:
        """The event that ends a stream that failed after its first byte."""
