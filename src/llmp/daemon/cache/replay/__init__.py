"""How each inbound wire format replays a cached answer in the client's own mode.

An answer is stored as the client received it: a JSON body, or a stream's
bytes. A client asking the same question in the other mode gets the answer
converted: a body becomes the format's full stream (every event, usage
included), a stream becomes the complete body. A format plugs into the cache
by declaring a `Replay` here; a format without one is simply not cached.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from llmp.daemon.cache.replay.anthropic import AnthropicReplay
from llmp.daemon.cache.replay.openai import OpenAIReplay
from llmp.daemon.cache.replay.responses import ResponsesReplay


class Replay(Protocol):
    #: Operations of this format whose answers may be cached.
    operations: frozenset[str]
    #: Operations answered only as a JSON body (never streamed).
    body_only: frozenset[str]
    #: Request fields whose presence leaves the cache out: the answer then depends on what
    #: the key cannot see.
    refused: frozenset[str]
    #: The body as the key sees it, when the format carries labels inside it that do not change
    #: the answer (None: the body as it is).
    key_body: Callable[[dict[str, Any]], dict[str, Any]] | None

    def body_from_stream(self, operation: str, events: bytes,
                         usage: dict[str, Any] | None = None) -> bytes:
        """The complete body a stream adds up to (with `usage` when the stream lost it on the
        way to the client); `Incomplete` when it is not a whole answer."""

    def answer_body(self, operation: str, body: bytes, request: dict[str, Any]) -> bytes:
        """A stored (or reassembled) body as this client receives it."""

    def stream_from_body(self, operation: str, body: bytes, request: dict[str, Any]) -> bytes:
        """A stored body as the format's full event sequence, for a client that streams."""

    def restream(self, operation: str, events: bytes, usage: dict[str, Any] | None,
                 request: dict[str, Any]) -> bytes:
        """A stored stream as this client should receive it (its own stream options)."""

    def check(self, operation: str, body: bytes, answer: dict[str, Any] | None = None) -> None:
        """Raise `Incomplete` unless the body is a whole, successful answer worth storing;
        `answer` is the body already parsed, when the relay parsed it (not parsed again)."""

    def key_extra(self) -> str | None:
        """What besides the body changes this format's answers (a header), for the key."""


REPLAYS: dict[str, Replay] = {"openai": OpenAIReplay(), "anthropic": AnthropicReplay(),
                              "responses": ResponsesReplay()}
