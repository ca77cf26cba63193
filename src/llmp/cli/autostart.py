"""Commands that need the daemon (`chat`, `test`) start it when it is not running.

A user who types `llmp chat` wants an answer, not an instruction to run
`llmp start` first. The start is the same detached start `llmp start` does, and
it is announced on stderr so that stdout stays the command's own output.
"""

from __future__ import annotations

from llmp.cli.console import error_console, fail
from llmp.core.state import DaemonState


def ensure_daemon() -> DaemonState:
    """The running daemon's state, starting the daemon first if needed; a failure is one line."""
    from llmp.cli.daemon_control import StartError, live_state, start_detached
    from llmp.core.paths import resolve_paths

    paths = resolve_paths()
    state = live_state(paths)
    if state is not None:
        return state
    err = error_console()
    err.print("llmp is not running; starting it…", style="dim", highlight=False)
    try:
        running = start_detached(paths, [])
    except StartError as exc:
        fail(f"could not start llmp: {exc}")
    err.print(f"llmp started at {running.state.base_url} (pid {running.state.pid})",
              style="dim", highlight=False)
    return running.state
