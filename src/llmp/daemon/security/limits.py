"""Limits aiohttp applies to each connection before any handler runs.

Header lines are bounded in size and number. aiohttp arms its keep-alive
timer as soon as a connection opens, so a client that has not sent complete
headers within `read_timeout` (a slow-headers attack, or an idle connection)
is disconnected; the body's own deadline is enforced by the guard
(`daemon.guard`), and its size by the application's `client_max_size`.
"""

from __future__ import annotations

from typing import Any

from llmp.core.config_schema import LimitsConfig


def runner_options(limits: LimitsConfig) -> dict[str, Any]:
    """Keyword arguments for `web.AppRunner` (passed on to each connection's handler)."""
    return {
        "max_line_size": limits.max_header_bytes,
        "max_field_size": limits.max_header_bytes,
        "max_headers": limits.max_headers,
        "keepalive_timeout": limits.read_timeout,
    }
