"""Starting and stopping the background daemon.

The daemon is this same program re-executed with a hidden first argument
(`sys.executable`, never fork), so a PyInstaller one-file build starts itself
the same way an installed package does. It runs detached: a new session on
POSIX, a new process group without a console window on Windows (see
`launch_options`), with the user's environment rather than a one-file
bootloader's (core/process_env.py).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from llmp.core.own_program import DAEMON_ARGUMENT, own_command
from llmp.core.paths import DAEMON_OUTPUT_LIMIT, Paths, unwritable
from llmp.core.process_env import daemon_environment
from llmp.core.state import DaemonState, is_alive, read_state, remove_state
from llmp.core.unpacked import remove_stale

START_TIMEOUT = 20.0
#: How often `llmp start` looks for the daemon's state file: a look is one small file read,
#: and the daemon is ready within a poll of writing it.
READY_POLL = 0.01


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
    return own_command(DAEMON_ARGUMENT)


def daemon_arguments(host: str | None, port: int | None, config: str | None) -> list[str]:
    args: list[str] = []
    if host:
        args += ["--host", host]
    if port is not None:
        args += ["--port", str(port)]
    if config:
        args += ["--config", os.path.abspath(config)]
    return args


# Win32 process creation flags (winbase.h), spelled out so the choice is testable anywhere.
CREATE_NEW_PROCESS_GROUP = 0x00000200
CREATE_NO_WINDOW = 0x08000000
DETACHED_PROCESS = 0x00000008


def launch_options(os_name: str = os.name) -> dict[str, object]:
    """How the daemon is detached from the terminal that typed `llmp start`.

    POSIX: a new session, so closing the terminal (SIGHUP) or Ctrl-C there does
    not reach it. Windows: CREATE_NO_WINDOW | CREATE_NEW_PROCESS_GROUP, and on
    purpose NOT DETACHED_PROCESS. A one-file build is a bootloader that starts
    the Python child with creation flags 0, so the child shares whatever console
    the bootloader has. DETACHED_PROCESS gives the bootloader none, and the
    child, a console program without a console, gets a new, visible console
    window for the daemon's whole life. CREATE_NO_WINDOW gives the bootloader a
    console of its own with no window, which the child inherits: no window, and
    closing the user's terminal closes a console the daemon is not attached to.
    CREATE_NEW_PROCESS_GROUP keeps Ctrl-C and Ctrl-Break in that terminal away
    from it. `llmp stop` asks over HTTP first, which works from any terminal.
    """
    if os_name == "nt":
        return {"creationflags": CREATE_NO_WINDOW | CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def _unpacking(paths: Paths) -> tuple[str | None, Path | None]:
    """The running build's unpacked folder, and where the daemon should unpack (frozen only).

    Stale folders of earlier daemons (a killed bootloader leaves its folder) go first.
    """
    if not getattr(sys, "frozen", False):
        return None, None
    bundle = getattr(sys, "_MEIPASS", None)
    unpack_dir = Path(os.path.abspath(paths.unpack_dir))
    try:
        unpack_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:  # no writable cache: unpack where the system says
        return bundle, None
    remove_stale(unpack_dir)
    return bundle, unpack_dir


def start_detached(paths: Paths, args: list[str], wait: float = START_TIMEOUT,
                   waiting: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
                   ) -> Running:
    """Start the daemon and wait until it answers, inside `waiting()` (a spinner, say).

    `waiting` is called, and the admin client imported, only once the daemon is
    spawned: their imports then run while the daemon starts, not before it.
    """
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
    env = daemon_environment(os.environ, *_unpacking(paths))
    spawned_at = time.time()
    try:
        sink = open(output, "ab")  # noqa: SIM115 (closed once the child has it)
    except OSError as exc:
        raise unwritable(output, exc) from None
    with sink:
        process = subprocess.Popen(
            daemon_command() + args,
            stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, env=env, close_fds=True,
            cwd=paths.state_dir, **launch_options(),  # type: ignore[arg-type]
        )
    deadline = time.monotonic() + wait
    with waiting():
        from llmp.cli.admin_client import healthy

        while time.monotonic() < deadline:
            code = process.poll()
            if code is not None:
                raise StartError(_new_output(output, offset) or f"the daemon exited with code {code}")
            state = read_state(paths.state_file)
            if state is not None and state.started_at >= spawned_at - 1 and healthy(state.base_url):
                return Running(state, already=False)
            time.sleep(READY_POLL)
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
