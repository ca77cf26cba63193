"""Limits aiohttp applies to each connection before any handler runs.

Body size is the application's `client_max_size`; the body read timeout is
enforced in the security middleware. aiohttp offers no timeout for the
request line and headers themselves, so those are bounded by size only.
"""

from __future__ import annotations

from typing import Any

from llmp.core.config_schema import LimitsConfig

KEEPALIVE_TIMEOUT = 75.0  # an idle keep-alive connection is closed after this many seconds


def runner_options(limits: LimitsConfig) -> dict[str, Any]:
    """Keyword arguments for `web.AppRunner` (passed on to each connection's handler)."""
    return {
        "max_line_size": limits.max_header_bytes,
        "max_field_size": limits.max_header_bytes,
        "max_headers": limits.max_headers,
        "keepalive_timeout": KEEPALIVE_TIMEOUT,
    }
