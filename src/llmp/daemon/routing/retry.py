"""How long to wait before trying the same deployment again, if at all.

Exponential backoff with full jitter (a random wait between 0 and
`backoff * 2**retry`, capped at `max_backoff`) spreads retries from many
clients apart. An upstream's Retry-After is a floor; one longer than
`max_backoff`, or longer than the request has left, is not worth waiting for
here: the router moves to the next target instead.
"""

from __future__ import annotations

import random

from llmp.core.config_schema import RetryConfig


def retry_delay(
    config: RetryConfig, retry: int, retry_after: float | None, remaining: float,
    rng: random.Random,
) -> float | None:
    """Seconds to wait before retry number `retry` (0-based), or None to move on."""
    if retry >= config.attempts:
        return None
    ceiling = min(config.max_backoff, config.backoff * (2 ** retry))
    delay = rng.uniform(0.0, ceiling)
    if retry_after is not None:
        if retry_after > config.max_backoff:
            return None
        delay = max(delay, retry_after)
    return delay if delay < remaining else None
