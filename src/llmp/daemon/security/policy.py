"""What an authenticated client may do: which models, how many requests and tokens.

`admit` runs once the request's model is known (inside `dispatch.serve`), so a
refusal is an ordinary `ClientError` answered in the client's wire format and
counted like any other request.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from fnmatch import fnmatchcase

from aiohttp import web

from llmp.core.config_schema import ServerConfig
from llmp.daemon.context import Clock, RequestContext
from llmp.daemon.errors import ClientError
from llmp.daemon.providers.base import Provider
from llmp.daemon.security.client_auth import Client, ClientAuth
from llmp.daemon.security.failure_audit import FailureAudit
from llmp.daemon.security.key_refresh import KeyRefresher
from llmp.daemon.security.rate_limit import ClientRateLimiter


class Security:
    """The daemon's security state: the server settings, client credentials, rate windows."""

    def __init__(
        self, server: ServerConfig, providers: Callable[[str], Provider | None],
        clock: Clock = time.monotonic,
    ) -> None:
        self.server = server
        self.auth = ClientAuth(server.auth)
        self.limiter = ClientRateLimiter(clock)
        self.failures = FailureAudit(clock=clock)
        self.key_refresher = KeyRefresher(providers, clock=clock)

    def reload(self) -> None:
        """Re-read client keys (they live in the keyring or the environment, not the config)."""
        self.auth.reload()


SECURITY = web.AppKey("security", Security)
CLIENT = web.RequestKey("client", Client)


def admit(request: web.Request, ctx: RequestContext) -> None:
    client = request.get(CLIENT)
    if client is None:
        return
    ctx.client_key = client.id
    model = ctx.requested_model
    if not any(fnmatchcase(model, pattern) for pattern in client.limits.models):
        raise ClientError(
            f"The client '{client.id}' may not use the model '{model}'.",
            status=403, param="model", code="model_not_allowed", error_type="permission_error",
        )
    wait = request.app[SECURITY].limiter.admit(client.id, client.limits)
    if wait is not None:
        raise ClientError(
            f"The client '{client.id}' has reached its rate limit; retry in {math.ceil(wait)}s.",
            status=429, code="rate_limit_exceeded", error_type="rate_limit_error",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
