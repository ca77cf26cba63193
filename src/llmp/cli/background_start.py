"""`llmp start` without `--foreground`: spawn the daemon, wait for it, say where it runs.

Shared by the Typer command (`lifecycle.start`) and by `entry.py`, which runs
it straight away for a `llmp start` whose options need no parsing library
(`plain_start_options`): loading Typer and click is a tenth of `llmp start`,
and it would come before the daemon is even spawned. Neither this module nor
what it loads before the spawn imports Typer.
"""

from __future__ import annotations

from collections.abc import Sequence

from llmp.cli.console import console, print_error
from llmp.core.paths import resolve_paths

#: The options `llmp start` takes a value for, by every spelling, and the argument each becomes.
_VALUED = {"--host": "host", "--port": "port", "--config": "config", "-c": "config"}


def start_in_background(host: str | None, port: int | None, config: str | None) -> int:
    """The exit status: 0 once the daemon answers (or already ran), 1 with the reason on stderr."""
    from llmp.cli.daemon_control import StartError, daemon_arguments, start_detached

    paths = resolve_paths()
    args = daemon_arguments(host, port, config)
    try:  # rich loads for the spinner once the daemon is spawned, while it starts
        result = start_detached(paths, args,
                                waiting=lambda: console().status("starting llmp…", spinner="dots"))
    except StartError as exc:
        print_error(str(exc))
        return 1
    out = console()
    state = result.state
    if result.already:
        out.print(f"llmp is already running at [bold]{state.base_url}[/] (pid {state.pid})")
        return 0
    out.print(f"[green]✓[/] llmp {state.version} running at [bold]{state.base_url}[/] "
              f"(pid {state.pid})")
    out.print(f"  export OPENAI_BASE_URL={state.base_url}/v1", highlight=False)
    return 0


def plain_start_options(args: Sequence[str]) -> tuple[str | None, int | None, str | None] | None:
    """The host, port and config of `llmp start ARGS`, when ARGS are only those options with
    well-formed values (`--port 0`, `--host=::1`, `-c file`); None for anything else (help,
    `--foreground`, a typo, a bad port), which the Typer command parses and explains."""
    found: dict[str, str] = {}
    pending = list(args)
    while pending:
        option, equals, value = pending.pop(0).partition("=")
        name = _VALUED.get(option)
        if name is None or (equals and option == "-c"):
            return None
        if not equals:
            if not pending:
                return None
            value = pending.pop(0)
        found[name] = value
    port = found.get("port")
    if port is not None and not (port.isascii() and port.isdigit()):
        return None
    return found.get("host"), None if port is None else int(port), found.get("config")
