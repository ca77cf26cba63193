"""Per-client request and token budgets over a sliding minute.

Requests are counted when admitted; tokens when a request finishes (only then
is its usage known), so a client over its token budget is refused from its
next request on. The clock is injected so tests move time instead of waiting.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from llmp.core.config_schema import ClientLimits
from llmp.daemon.context import Clock, RequestContext

WINDOW = 60.0


@dataclass
class _Usage:
    requests: deque[float] = field(default_factory=deque)
    tokens: deque[tuple[float, int]] = field(default_factory=deque)
    token_sum: int = 0

    def expire(self, now: float) -> None:
        while self.requests and self.requests[0] <= now - WINDOW:
            self.requests.popleft()
        while self.tokens and self.tokens[0][0] <= now - WINDOW:
            self.token_sum -= self.tokens.popleft()[1]


class ClientRateLimiter:
    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self._usage: dict[str, _Usage] = {}

    def admit(self, client_id: str, limits: ClientLimits) -> float | None:
        """None when the request may go ahead, else the seconds to wait before retrying."""
        if limits.rpm is None and limits.tpm is None:
            return None
        now = self.clock()
        usage = self._usage.setdefault(client_id, _Usage())
        usage.expire(now)
        if limits.rpm is not None and len(usage.requests) >= limits.rpm:
            return usage.requests[0] + WINDOW - now
        if limits.tpm is not None and usage.token_sum >= limits.tpm:
            return usage.tokens[0][0] + WINDOW - now
        usage.requests.append(now)
        return None

    def request_finished(self, ctx: RequestContext) -> None:
        """Observer hook: charge the tokens the request used to its client."""
        if ctx.client_key is None or not ctx.usage:
            return
        tokens = ctx.usage.get("total_tokens")
        if not isinstance(tokens, int):
            tokens = sum(v for k, v in ctx.usage.items() if k.endswith("_tokens") and isinstance(v, int))
        if tokens > 0:
            usage = self._usage.setdefault(ctx.client_key, _Usage())
            usage.tokens.append((self.clock(), tokens))
            usage.token_sum += tokens
