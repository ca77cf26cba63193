"""Access tokens for Vertex AI, from the environment or from a command such as gcloud.

Vertex signs requests with a short-lived OAuth token rather than an API key.
Running `gcloud auth print-access-token` costs hundreds of milliseconds, so a
token is reused until it is close to expiring; a 401 from Vertex drops it
early. The command runs without a shell (no quoting surprises, no injection
through config) and its output is never logged or put in an error message.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import time
from collections.abc import Callable

from llmp.core.config_schema import VertexConfig
from llmp.daemon.errors import ErrorKind, UpstreamError

COMMAND_TIMEOUT = 30.0


class TokenSource:
    def __init__(
        self, provider: str, config: VertexConfig, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.provider = provider
        self.config = config
        self.clock = clock
        self._token: str | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def command(self) -> list[str]:
        command = self.config.token_command
        return shlex.split(command) if isinstance(command, str) else list(command)

    async def token(self) -> str:
        """A valid token: the environment's, the cached one, or a fresh one from the command."""
        if self.config.token_env:
            value = os.environ.get(self.config.token_env, "").strip()
            if value:
                return value
        async with self._lock:
            if self._token and self.clock() - self._fetched_at < self.config.token_lifetime:
                return self._token
            self._token = await self._run()
            self._fetched_at = self.clock()
            return self._token

    def invalidate(self) -> None:
        """Vertex refused the token (revoked, expired early): fetch a new one next time."""
        self._token = None

    async def _run(self) -> str:
        command = self.command
        name = command[0] if command else "(empty)"
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except (OSError, IndexError) as exc:
            raise self._failure(f"cannot run token command '{name}' ({type(exc).__name__})") from None
        try:
            out, err = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
            raise self._failure(
                f"token command '{name}' did not finish within {COMMAND_TIMEOUT:g}s"
            ) from None
        token = out.decode("utf-8", "replace").strip()
        if process.returncode != 0 or not token:
            # stderr names the problem (not logged in, no project); stdout may hold a secret.
            lines = err.decode("utf-8", "replace").strip().splitlines()
            reason = f": {lines[-1][:200]}" if lines else ""
            raise self._failure(
                f"token command '{name}' exited with status {process.returncode}"
                f"{' and printed no token' if process.returncode == 0 else ''}{reason}"
            )
        return token.splitlines()[-1].strip()

    def _failure(self, message: str) -> UpstreamError:
        return UpstreamError(
            ErrorKind.AUTH,
            f"provider '{self.provider}' has no Vertex AI access token: {message}",
            status=401,
            provider=self.provider,
            code="vertex_token_unavailable",
        )
