"""Process entry point shared by the console script, `python -m llmp` and frozen builds.

The daemon is started by re-executing this same program with a hidden first
argument, and the daemon reads the OS keyring through it with another one.
Dispatching on them here, before anything else is imported, keeps the daemon
free of typer, rich and the keyring's libraries, and `llmp --help` free of aiohttp.
"""

from __future__ import annotations

import sys

DAEMON_ARGUMENT = "__daemon__"
KEYRING_ARGUMENT = "__keyring__"


def own_command(argument: str) -> list[str]:
    """This same program with a hidden first argument: the binary itself when frozen."""
    if getattr(sys, "frozen", False):
        return [sys.executable, argument]
    return [sys.executable, "-m", "llmp", argument]


def main() -> None:
    try:
        if len(sys.argv) > 1 and sys.argv[1] == DAEMON_ARGUMENT:
            from llmp.daemon.main import main as daemon_main

            sys.exit(daemon_main(sys.argv[2:]))
        if len(sys.argv) > 1 and sys.argv[1] == KEYRING_ARGUMENT:
            from llmp.core.keyring_child import serve

            sys.exit(serve())
        from llmp.cli.app import run
        from llmp.cli.closed_pipe import flush_or_quiet_exit

        try:
            run()
        finally:
            flush_or_quiet_exit()
    except Exception as exc:  # a crash: its traceback must not print a key either
        from llmp.core.redact import report_uncaught

        report_uncaught(exc)
        sys.exit(1)
