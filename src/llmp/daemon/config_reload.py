"""Applying a changed config file to the running daemon (`llmp reload`, `POST /admin/reload`).

A reload takes effect for providers, model aliases, `defaults` (timeouts,
retries, circuit breakers, health checks), rate limits, prices, the log level
and the usage retention. It does not touch what the daemon bound at start on
purpose, so that no request pays for looking it up again: the whole `server:`
section (address, port, client auth, limits, allowed hosts, CORS), whether
usage is recorded at all and whether bodies are stored, and the log file's
rotation. Those are named in the answer as waiting for a restart.

Routing starts afresh with the new config: circuit breakers, health results,
statistics and learned rate-limit waits begin again from nothing, for
unchanged providers too. A provider whose settings did not change keeps its
object and its pooled HTTP connections; a changed or removed one is retired:
requests already running on it finish there, and its connections are closed
once none is left (or after a grace period as long as its total timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from llmp.core.config_loader import LoadedConfig, load_config
from llmp.core.config_schema import Config
from llmp.core.paths import resolve_paths
from llmp.daemon.providers.base import Provider
from llmp.daemon.routing.clock import Clock

DRAIN_POLL = 0.25  # seconds between looks at whether retired providers are still in use
DRAIN_GRACE_CAP = 900.0  # the longest a retired provider's connections stay open
#: Options read once at start, outside `server:`, that a reload does not change.
_STARTUP_ONLY = (("usage", "enabled"), ("usage", "log_bodies"),
                 ("logging", "max_bytes"), ("logging", "backup_count"),
                 ("cache", "max_bytes"), ("cache", "memory_entries"))


class ReloadError(Exception):
    """The new config cannot be applied; the running one stays as it was."""


@dataclass
class ReloadSummary:
    """What a reload changed, and which changed options wait for a restart."""

    config_file: str | None
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    aliases_changed: bool = False
    needs_restart: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "config_file": self.config_file,
            "providers": {"added": self.added, "removed": self.removed, "changed": self.changed},
            "aliases_changed": self.aliases_changed,
            "needs_restart": self.needs_restart,
        }


def read_again(running: LoadedConfig) -> LoadedConfig:
    """The config the daemon runs on, read anew: its file, or, for a daemon started on the
    built-in defaults, the default config file if one has been written since (else the
    defaults again)."""
    if running.source is None:
        return load_config(resolve_paths().default_config_file)
    return load_config(running.source, explicit=True)


def summarize(
    old: Config, new: Config, old_providers: dict[str, Provider], new_providers: dict[str, Provider]
) -> ReloadSummary:
    """Compare the running config with the applied one (whose `server:` is still the old)."""
    return ReloadSummary(
        config_file=None,
        added=[name for name in new_providers if name not in old_providers],
        removed=[name for name in old_providers if name not in new_providers],
        changed=[name for name, provider in new_providers.items()
                 if name in old_providers and old_providers[name] is not provider],
        aliases_changed=old.models != new.models,
    )


def needs_restart(old: Config, new: Config) -> list[str]:
    """Dotted names of the options that differ but only take effect at the next start."""
    names = [f"server.{name}" for name in type(old.server).model_fields
             if getattr(old.server, name) != getattr(new.server, name)]
    names += [f"{section}.{name}" for section, name in _STARTUP_ONLY
              if getattr(getattr(old, section), name) != getattr(getattr(new, section), name)]
    return names


def keep_startup_options(running: Config, new: Config) -> None:
    """Carry into `new` what stays in force until a restart, so the running config tells the truth."""
    new.server = running.server
    for section, name in _STARTUP_ONLY:
        setattr(getattr(new, section), name, getattr(getattr(running, section), name))


def retired(old: dict[str, Provider], new: dict[str, Provider]) -> list[Provider]:
    """Providers of the old config that the new one does not keep (removed or rebuilt)."""
    return [provider for name, provider in old.items() if new.get(name) is not provider]


async def close_when_idle(
    providers: list[Provider], busy: Callable[[], bool], clock: Clock, grace: float
) -> None:
    """Close retired providers once nothing runs on them, or after `grace` seconds."""
    try:
        waited = 0.0
        while busy() and waited < grace:
            await clock.sleep(DRAIN_POLL)
            waited += DRAIN_POLL
    finally:
        for provider in providers:
            with contextlib.suppress(Exception):  # a failing close must not keep the others open
                await provider.close()


def drain_grace(providers: Iterable[Provider]) -> float:
    """Long enough for any request the providers may be serving to reach its own timeout."""
    longest = max((p.config.timeout.total for p in providers), default=0.0)
    return min(longest + 5.0, DRAIN_GRACE_CAP)


async def cancel_all(tasks: set[asyncio.Task[None]]) -> None:
    """Stop pending drains at shutdown; each closes its providers on the way out."""
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
