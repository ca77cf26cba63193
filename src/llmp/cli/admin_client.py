"""The CLI's client of the daemon's admin API.

Plain HTTP on loopback to one daemon: the standard library's `http.client`
does it, where an HTTP library (httpx costs ~0.12 s of CPU to import) would
be most of what `llmp status` and `llmp start` spend.
"""

from __future__ import annotations

import http.client
import json as jsonlib
from typing import Any
from urllib.parse import urlsplit

from llmp.core.state import DaemonState


class DaemonUnreachable(Exception):
    """The daemon's process exists but its admin API did not answer."""


class DaemonRefused(DaemonUnreachable):
    """The daemon answered, with an error: `message` is its own words."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"the daemon answered {status}: {message}")
        self.status = status
        self.message = message


def _exchange(base_url: str, method: str, path: str, timeout: float,
              headers: dict[str, str], body: bytes | None = None) -> tuple[int, bytes]:
    """One request on a connection of its own: the status and the whole body."""
    where = urlsplit(base_url)
    connection = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def admin_request(
    state: DaemonState, method: str, path: str, *, timeout: float = 5.0, json: Any = None
) -> Any:
    headers = {"Authorization": f"Bearer {state.token}"}
    body = None
    if json is not None:
        body = jsonlib.dumps(json).encode("utf-8")
        headers["Content-Type"] = "application/json"
    try:
        status, data = _exchange(state.base_url, method, path, timeout, headers, body)
    except (OSError, http.client.HTTPException) as exc:
        reason = str(exc) or type(exc).__name__
        raise DaemonUnreachable(f"the daemon at {state.base_url} did not answer ({reason})") from exc
    if status >= 400:
        try:
            message = jsonlib.loads(data)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = data.decode("utf-8", "replace")[:200]
        raise DaemonRefused(status, message)
    try:
        return jsonlib.loads(data)
    except ValueError as exc:
        raise DaemonUnreachable(f"the daemon at {state.base_url} answered what is not JSON") from exc


def healthy(base_url: str, timeout: float = 1.0) -> bool:
    try:
        return _exchange(base_url, "GET", "/healthz", timeout, {})[0] == 200
    except (OSError, http.client.HTTPException):
        return False
