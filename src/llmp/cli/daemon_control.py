"""Starting and stopping the background daemon.

The daemon is this same program re-executed with a hidden first argument
(`sys.executable`, never fork), so a PyInstaller one-file build starts itself
the same way an installed package does. It runs detached: a new session on
POSIX, a detached process group without a console window on Windows.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from llmp.core.paths import DAEMON_OUTPUT_LIMIT, Paths
from llmp.core.state import DaemonState, is_alive, read_state, remove_state
from llmp.entry import DAEMON_ARGUMENT

START_TIMEOUT = 20.0


class StartError(Exception):
    """The daemon could not start; the message says why in the daemon's own words."""


@dataclass
class Running:
    state: DaemonState
    already: bool


def live_state(paths: Paths) -> DaemonState | None:
    """The running daemon's state; a stale file (dead or reused pid) is removed."""
    state = read_state(paths.state_file)
    if state is None:
        return None
    if is_alive(state):
        return state
    remove_state(paths.state_file, only_pid=state.pid)
    return None


def daemon_command() -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable, DAEMON_ARGUMENT]
    return [sys.executable, "-m", "llmp", DAEMON_ARGUMENT]


def daemon_arguments(host: str | None, port: int | None, config: str | None) -> list[str]:
    args: list[str] = []
    if host:
        args += ["--host", host]
    if port is not None:
        args += ["--port", str(port)]
    if config:
        args += ["--config", os.path.abspath(config)]
    return args


def start_detached(paths: Paths, args: list[str], wait: float = START_TIMEOUT) -> Running:
    from llmp.cli.admin_client import healthy

    current = live_state(paths)
    if current is not None:
        return Running(current, already=True)
    paths.ensure()
    output = paths.daemon_output_file
    offset = output.stat().st_size if output.exists() else 0
    if offset > DAEMON_OUTPUT_LIMIT:  # the last run's output is kept once, never grows
        with contextlib.suppress(OSError):
            output.replace(output.with_name(output.name + ".1"))
            offset = 0
    env = dict(os.environ, PYINSTALLER_RESET_ENVIRONMENT="1")
    spawned_at = time.time()
    with open(output, "ab") as sink:
        options: dict[str, object] = {}
        if os.name == "nt":
            options["creationflags"] = (
                subprocess.DETACHED_PROCESS  # type: ignore[attr-defined]
                | subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
                | subprocess.CREATE_NO_WINDOW  # type: ignore[attr-defined]
            )
        else:
            options["start_new_session"] = True
        process = subprocess.Popen(
            daemon_command() + args,
            stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, env=env, close_fds=True,
            **options,  # type: ignore[arg-type]
        )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        code = process.poll()
        if code is not None:
            raise StartError(_new_output(output, offset) or f"the daemon exited with code {code}")
        state = read_state(paths.state_file)
        if state is not None and state.started_at >= spawned_at - 1 and healthy(state.base_url):
            return Running(state, already=False)
        time.sleep(0.05)
    process.kill()
    raise StartError(f"the daemon did not answer within {wait:g}s; see {output}")


def _new_output(output: os.PathLike[str], offset: int) -> str:
    try:
        with open(output, "rb") as handle:
            handle.seek(offset)
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.removeprefix("llmp: ") for line in text.strip().splitlines()]
    return "\n".join(lines[-20:])


def stop(paths: Paths, timeout: float) -> DaemonState | None:
    """Ask the daemon to stop, then signal it, then kill it, waiting `timeout` seconds after each
    of the first two. None when it was not running."""
    import psutil

    from llmp.cli.admin_client import DaemonUnreachable, admin_request

    state = live_state(paths)
    if state is None:
        return None
    try:
        process = psutil.Process(state.pid)
    except psutil.NoSuchProcess:
        remove_state(paths.state_file, only_pid=state.pid)
        return state
    steps: list[Callable[[], None] | None] = [process.terminate, process.kill]
    with contextlib.suppress(DaemonUnreachable):  # a daemon that cannot hear it gets the signal at once
        admin_request(state, "POST", "/admin/shutdown", timeout=3.0)
        steps.insert(0, None)
    for action in steps:
        try:
            if action is not None:
                action()
            process.wait(timeout)
            break
        except psutil.TimeoutExpired:
            continue
        except psutil.NoSuchProcess:
            break
    remove_state(paths.state_file, only_pid=state.pid)
    return state
