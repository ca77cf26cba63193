"""`llmp config edit`: open the config in the user's editor, check it on save, offer a reload.

A config that does not validate is never left silently: the problems are
shown and the user is offered the editor again, so a typo is fixed before
`llmp start` or `llmp reload` trips over it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import typer

from llmp.cli.console import console, fail, print_error


def editor_command() -> list[str]:
    """$VISUAL, else $EDITOR, else what every system has."""
    chosen = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if chosen:
        return shlex.split(chosen, posix=os.name != "nt")
    return ["notepad"] if os.name == "nt" else ["vi"]


def edit(
    reload: bool | None = typer.Option(
        None, "--reload/--no-reload",
        help="Reload a running daemon after a valid save (default: ask)."),
) -> None:
    """Open the config in $VISUAL / $EDITOR, validate it on save, offer to reload the daemon."""
    from llmp.cli.config_target import check, config_file
    from llmp.core.private_file import write_private
    from llmp.core.starter_config import providers_with_keys, starter_text

    target, _ = config_file()
    if not target.exists():
        write_private(target, starter_text(providers_with_keys()))
        console().print(f"no config yet: starting from `llmp config init`'s file at {target}",
                        highlight=False, soft_wrap=True)
    while True:
        before = target.read_bytes()
        _run_editor(target)
        problems = check(target)
        if not problems:
            break
        for line in problems:
            print_error(line)
        if not _interactive() or not typer.confirm("edit it again?", default=True):
            fail(f"{target} was saved with the problems above; llmp start would refuse it")
    changed = target.read_bytes() != before
    console().print(f"[green]✓[/] {target} is valid" + ("" if changed else " (unchanged)"),
                    highlight=False, soft_wrap=True)
    _offer_reload(reload)


def _run_editor(target: Path) -> None:
    command = [*editor_command(), str(target)]
    try:
        code = subprocess.call(command)
    except OSError as exc:
        fail(f"cannot run the editor {command[0]!r} ({exc.strerror or exc}); "
             "set VISUAL or EDITOR to the editor you use")
    if code != 0:
        fail(f"the editor {command[0]!r} exited with code {code}; the file was not checked")


def _interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _offer_reload(reload: bool | None) -> None:
    from llmp.cli.daemon_control import live_state
    from llmp.core.paths import resolve_paths

    state = live_state(resolve_paths())
    if state is None or reload is False:
        return
    if reload is None:
        if not _interactive():
            console().print("  the daemon runs: apply the change with llmp reload", highlight=False)
            return
        if not typer.confirm("reload the running daemon now?", default=True):
            return
    from llmp.cli.admin_client import DaemonRefused, DaemonUnreachable, admin_request
    from llmp.cli.lifecycle import print_reloaded

    try:
        result = admin_request(state, "POST", "/admin/reload", timeout=60.0)
    except DaemonUnreachable as exc:
        fail(exc.message if isinstance(exc, DaemonRefused) else str(exc))
    print_reloaded(result)
