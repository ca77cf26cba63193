"""Process entry point shared by the console script, `python -m llmp` and frozen builds.

The daemon is started by re-executing this same program with a hidden first
argument. Dispatching on it here, before anything else is imported, keeps the
daemon free of typer and rich and keeps `llmp --help` free of aiohttp.
"""

from __future__ import annotations

import sys

from llmp.core.paths import UnwritableHome

DAEMON_ARGUMENT = "__daemon__"


def main() -> None:
    try:
        if len(sys.argv) > 1 and sys.argv[1] == DAEMON_ARGUMENT:
            from llmp.daemon.main import main as daemon_main

            sys.exit(daemon_main(sys.argv[2:]))
        from llmp.cli.app import run
        from llmp.cli.closed_pipe import flush_or_quiet_exit

        try:
            run()
        finally:
            flush_or_quiet_exit()
    except UnwritableHome as exc:  # a read-only home is the user's to fix: say where, not how it broke
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:  # a crash: its traceback must not print a key either
        from llmp.core.redact import report_uncaught

        report_uncaught(exc)
        sys.exit(1)
