"""What the daemon knows about one request while serving it, and afterwards.

Created when a request arrives and filled in by the API layer and the router;
observers (logs, metrics, the usage ledger) read it when the request ends.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from llmp.daemon.routing.admission import Admission

_ID_PREFIX = os.urandom(8).hex()  # this process's, so ids differ across restarts
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """`req_` and 32 hex digits, unique per daemon run and sortable within it.

    An id only has to tell requests apart (it is no secret), so a per-process
    random prefix and a counter do, without uuid4's syscall and bit twiddling
    on every request.
    """
    return f"req_{_ID_PREFIX}{next(_ID_COUNTER):016x}"


@dataclass(slots=True)
class RequestContext:
    request_id: str
    inbound: str  # the client's wire format: openai | anthropic
    operation: str  # chat | completions | embeddings
    requested_model: str
    stream: bool
    started: float = field(default_factory=time.monotonic)
    alias: str | None = None
    provider: str | None = None
    model: str | None = None
    attempts: int = 0
    status: int = 0
    error_kind: str | None = None
    error_message: str | None = None
    usage: dict[str, Any] | None = None
    first_byte_at: float | None = None
    finished_at: float | None = None
    client_key: str | None = None
    failures: list[str] = field(default_factory=list)  # "provider/model: kind" per failed attempt
    tried: list[tuple[str, str]] = field(default_factory=list)  # (provider, model) per attempt
    # For the usage ledger: references, never copies, so the hot path pays nothing.
    request_body: dict[str, Any] | None = None  # the client's parsed body
    response_body: bytes | None = None  # a non-streamed answer as the client got it
    dropped_tools: str | None = None  # tools the client sent that the provider cannot serve, left out
    stream_events: int = 0  # stream events relayed; estimates output tokens when no usage came
    #: What the response cache did: hit | miss | refresh | bypass; None when it took no part.
    cache: str | None = None
    #: The router's admission that served the request, for the router to settle when it ends.
    admission: Admission | None = None

    @property
    def latency(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.started

    @property
    def time_to_first_byte(self) -> float | None:
        return None if self.first_byte_at is None else self.first_byte_at - self.started


class RequestObserver(Protocol):
    def request_finished(self, ctx: RequestContext) -> None:
        """Called once per request, on the event loop; must not block."""


Clock = Callable[[], float]
