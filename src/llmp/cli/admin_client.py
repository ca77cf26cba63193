"""The CLI's client of the daemon's admin API (httpx, imported only when needed)."""

from __future__ import annotations

from typing import Any

from llmp.core.state import DaemonState


class DaemonUnreachable(Exception):
    """The daemon's process exists but its admin API did not answer."""


class DaemonRefused(DaemonUnreachable):
    """The daemon answered, with an error: `message` is its own words."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"the daemon answered {status}: {message}")
        self.status = status
        self.message = message


def admin_request(
    state: DaemonState, method: str, path: str, *, timeout: float = 5.0, json: Any = None
) -> Any:
    import httpx

    try:
        response = httpx.request(
            method,
            state.base_url + path,
            headers={"Authorization": f"Bearer {state.token}"},
            timeout=timeout,
            json=json,
        )
    except httpx.HTTPError as exc:
        raise DaemonUnreachable(f"the daemon at {state.base_url} did not answer ({exc})") from exc
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        raise DaemonRefused(response.status_code, message)
    return response.json()


def healthy(base_url: str, timeout: float = 1.0) -> bool:
    import httpx

    try:
        return httpx.get(base_url + "/healthz", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False
