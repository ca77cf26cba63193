"""Process entry point shared by the console script, `python -m llmp` and frozen builds.

The daemon is started by re-executing this same program with a hidden first
argument, and the daemon reads the OS keyring through it with another one.
Dispatching on them here, before anything else is imported, keeps the daemon
free of typer, rich and the keyring's libraries, and `llmp --help` free of aiohttp.
`llmp --version` alone is answered here too: loading the CLI (typer, rich and
every command's module) is most of what it would otherwise cost, and scripts
call it often. So is a plain `llmp start` (see `cli/background_start.py`), whose
daemon is then spawned before Typer would have loaded.
"""

from __future__ import annotations

import sys

from llmp.core.own_program import DAEMON_ARGUMENT, KEYRING_ARGUMENT, version_line


def _print_version() -> None:
    try:
        print(version_line(), flush=True)
    except BrokenPipeError:  # `llmp --version | head -0`
        from llmp.cli.closed_pipe import quiet_exit

        quiet_exit()


def _start_at_once(args: list[str]) -> bool:
    """`llmp start` with plain options, run before the CLI loads (the daemon is spawned sooner);
    False when its options need the CLI's parser (help, `--foreground`, a mistake)."""
    from llmp.cli.background_start import plain_start_options, start_in_background
    from llmp.cli.closed_pipe import quiet_on_closed_pipe

    options = plain_start_options(args)
    if options is None:
        return False
    with quiet_on_closed_pipe():  # as the CLI's own group does
        code = start_in_background(*options)
    if code:
        sys.exit(code)
    return True


def main() -> None:
    try:
        if len(sys.argv) > 1 and sys.argv[1] == DAEMON_ARGUMENT:
            from llmp.daemon.main import main as daemon_main

            sys.exit(daemon_main(sys.argv[2:]))
        if len(sys.argv) > 1 and sys.argv[1] == KEYRING_ARGUMENT:
            from llmp.core.keyring_child import serve

            sys.exit(serve())
        if sys.argv[1:] == ["--version"]:
            _print_version()
            return
        from llmp.cli.closed_pipe import flush_or_quiet_exit

        try:
            if sys.argv[1:2] == ["start"] and _start_at_once(sys.argv[2:]):
                return
            from llmp.cli.app import run

            run()
        finally:
            flush_or_quiet_exit()
    except Exception as exc:
        from llmp.core.paths import UnwritableHome  # here, not at the top: `--version` stays light

        if isinstance(exc, UnwritableHome):  # a read-only home is the user's to fix: say where
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(1)
        from llmp.core.redact import report_uncaught  # a crash: its traceback must not print a key

        report_uncaught(exc)
        sys.exit(1)
