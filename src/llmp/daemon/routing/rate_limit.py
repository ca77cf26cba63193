"""Local rate limits per provider: requests and tokens per minute, requests in flight.

When a provider's budget is spent the router takes the next target instead of
sending a request the provider would answer with a 429. An upstream 429 with
Retry-After also closes the budget until then. Tokens are an estimate at
admission (prompt size / 4 + max_tokens), corrected by the real usage when
the request ends.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import orjson

from llmp.core.config_schema import RateLimitConfig
from llmp.daemon.routing.clock import Clock

MINUTE = 60.0
BUSY_RETRY = 1.0  # a concurrency slot has no known release time; suggest a short wait


class RateLimiter:
    def __init__(self, config: RateLimitConfig, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self._requests: deque[float] = deque()
        self._tokens: deque[tuple[float, int]] = deque()
        self._token_sum = 0
        self.in_flight = 0
        self.blocked_until = 0.0
        self.counts_tokens = config.tpm is not None  # asked on every admission
        #: No budget of its own (the usual case): nothing to count, and only an upstream's
        #: Retry-After can hold it. The router then calls `acquire` only while `blocked_until`
        #: is set, and `release` never.
        self.free = config.rpm is None and config.tpm is None and config.max_concurrent is None

    def wait_time(self, tokens: int = 0) -> float:
        """Seconds until a request of `tokens` fits the budget; 0 when it fits now."""
        now = self._clock.now()
        self._prune(now)
        waits = [self.blocked_until - now]
        config = self.config
        if config.max_concurrent is not None and self.in_flight >= config.max_concurrent:
            waits.append(BUSY_RETRY)
        if config.rpm is not None and len(self._requests) >= config.rpm:
            waits.append(self._requests[0] + MINUTE - now)
        if config.tpm is not None and self._token_sum and self._token_sum + tokens > config.tpm:
            waits.append(self._tokens[0][0] + MINUTE - now)
        return max(0.0, *waits)

    def acquire(self, tokens: int = 0) -> bool:
        if self.free:
            if self.blocked_until > self._clock.now():
                return False
            self.blocked_until = 0.0  # passed: the router need not ask again
            return True
        if self.wait_time(tokens) > 0:
            return False
        now = self._clock.now()
        self.in_flight += 1
        if self.config.rpm is not None:
            self._requests.append(now)
        if tokens and self.config.tpm is not None:
            self._add_tokens(now, tokens)
        return True

    def release(self, estimated: int = 0, actual: int | None = None) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        if actual is not None and self.config.tpm is not None and actual != estimated:
            self._add_tokens(self._clock.now(), actual - estimated)

    def block_for(self, seconds: float) -> None:
        """The upstream said it is out of budget for `seconds` (a 429 with Retry-After)."""
        self.blocked_until = max(self.blocked_until, self._clock.now() + seconds)

    def _add_tokens(self, now: float, tokens: int) -> None:
        self._tokens.append((now, tokens))
        self._token_sum += tokens

    def _prune(self, now: float) -> None:
        horizon = now - MINUTE
        while self._requests and self._requests[0] <= horizon:
            self._requests.popleft()
        while self._tokens and self._tokens[0][0] <= horizon:
            self._token_sum -= self._tokens.popleft()[1]


def estimate_tokens(body: dict[str, Any]) -> int:
    """A cheap upper-ish guess of a request's tokens: about four bytes per token, plus the output cap."""
    prompt = body.get("messages") or body.get("input") or body.get("prompt") or ""
    size = len(prompt) if isinstance(prompt, str) else len(orjson.dumps(prompt))
    cap = body.get("max_completion_tokens") or body.get("max_tokens") or 0
    return size // 4 + (cap if isinstance(cap, int) else 0)
