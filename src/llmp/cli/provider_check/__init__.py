"""`llmp test`: check every provider, through the daemon or directly.

`command` (the Typer command and which providers and models), `checks` (the
checks, written once), `probe` (the interface they use), `daemon_probe`
(through the daemon over HTTP), `direct_probe` (the daemon's adapters in this
process, for `--direct`), `report` (table, JSON, masking of keys).
"""

from llmp.cli.provider_check.command import register

__all__ = ["register"]
