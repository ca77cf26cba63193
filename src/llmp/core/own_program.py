"""This program as it runs itself again: the hidden arguments that make it the daemon or the
keyring reader, the command that starts it, and the version line it prints.

Apart from `entry.py`, which dispatches on these arguments, so that what starts
the daemon or the reader (the CLI, the keyring store) need not import the
entry point that imports them.
"""

from __future__ import annotations

import sys

from llmp import __version__

DAEMON_ARGUMENT = "__daemon__"
KEYRING_ARGUMENT = "__keyring__"


def own_command(argument: str) -> list[str]:
    """This same program with a hidden first argument: the binary itself when frozen."""
    if getattr(sys, "frozen", False):
        return [sys.executable, argument]
    return [sys.executable, "-m", "llmp", argument]


def version_line() -> str:
    return f"llmp {__version__}"
