"""Re-reading a provider's key after the provider refused it.

`llmp keys set` tells the running daemon about a new key, but a key can also
change behind llmp's back (another keyring tool, an edited key file). When a
request ends with the upstream rejecting the key, the provider reads its key
again, off the event loop (a keyring lookup may block), at most once per
`interval` seconds per provider; the next request uses whatever it found.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from llmp.daemon.context import Clock, RequestContext
from llmp.daemon.errors import ErrorKind
from llmp.daemon.providers.base import Provider

log = logging.getLogger("llmp.security")
_AUTH = ErrorKind.AUTH.value


class KeyRefresher:
    def __init__(
        self, lookup: Callable[[str], Provider | None], interval: float = 30.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.lookup = lookup  # by name, so providers rebuilt by a config reload are found
        self.interval = interval
        self.clock = clock
        self._last: dict[str, float] = {}
        self.pending: set[asyncio.Future[None]] = set()

    def request_finished(self, ctx: RequestContext) -> None:
        if ctx.error_kind != _AUTH or ctx.provider is None:
            return
        provider = self.lookup(ctx.provider)
        now = self.clock()
        last = self._last.get(ctx.provider)
        if provider is None or (last is not None and now - last < self.interval):
            return
        self._last[ctx.provider] = now
        future = asyncio.get_running_loop().run_in_executor(None, self._reload, provider)
        self.pending.add(future)
        future.add_done_callback(self.pending.discard)

    @staticmethod
    def _reload(provider: Provider) -> None:
        before = provider.key.value
        provider.reload_key()
        if provider.key.value != before:
            log.info("provider '%s' has a new key (%s)", provider.name, provider.key.masked)
