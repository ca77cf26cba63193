"""Refusing to serve the network unauthenticated.

On loopback only this machine's programs reach the daemon; on any other
address the LAN does too, and it would spend the user's provider keys. So a
non-loopback bind needs `server.auth` (client keys or JWT), or the daemon does
not start.
"""

from __future__ import annotations

import ipaddress

from llmp.core.config_loader import ConfigError
from llmp.core.config_schema import ServerConfig


def is_loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_exposure(server: ServerConfig) -> None:
    if is_loopback(server.host) or server.auth.enabled:
        return
    raise ConfigError(
        f"refusing to listen on {server.host}: that address is reachable from other machines "
        "and no client authentication is configured. Add client keys under server.auth.keys "
        "(or server.auth.jwt), or bind 127.0.0.1."
    )
