"""The daemon's state file: how the CLI finds the running daemon and proves it may drive it.

The daemon writes it atomically (temporary file + rename) once it is listening,
with its own pid and process create time: a pid alone can be reused by an
unrelated process after a crash, the pair cannot. The file holds the per-run
admin token, so it is created with mode 0600.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from llmp.core.private_file import write_private


@dataclass(frozen=True)
class DaemonState:
    pid: int
    create_time: float
    host: str
    port: int
    token: str
    version: str
    started_at: float
    config_file: str | None = None

    @property
    def base_url(self) -> str:
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


def new_token() -> str:
    import secrets  # here: the CLI reads state files, only the daemon makes tokens (hmac, OpenSSL)

    return secrets.token_urlsafe(32)


def write_state(path: Path, state: DaemonState) -> None:
    write_private(path, json.dumps(asdict(state)))


def read_state(path: Path) -> DaemonState | None:
    """The recorded state, or None when there is none or it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return DaemonState(**data)
    except (OSError, ValueError, TypeError):
        return None


def remove_state(path: Path, *, only_pid: int | None = None) -> None:
    """Remove the file; with `only_pid`, only if it still describes that process."""
    if only_pid is not None:
        current = read_state(path)
        if current is not None and current.pid != only_pid:
            return
    path.unlink(missing_ok=True)


def process_create_time(pid: int) -> float | None:
    """When process `pid` was created, in seconds since the epoch, as psutil reckons it.

    On Linux it is read from /proc the way psutil reads it, so that the daemon,
    which asks this of itself once, need not load psutil (about a megabyte of
    its idle memory) for it; `process_matches` compares it with psutil's figure.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            return _linux_create_time(pid)
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return None


def _linux_create_time(pid: int) -> float:
    """The process's start, in clock ticks after boot (`stat` field 22), plus the boot time."""
    stat = Path(f"/proc/{pid}/stat").read_bytes()
    ticks = int(stat[stat.rfind(b")") + 2:].split()[19])  # fields after the name start at 3
    with open("/proc/stat", "rb") as system:
        boot = next(float(line.split()[1]) for line in system if line.startswith(b"btime"))
    return ticks / os.sysconf("SC_CLK_TCK") + boot


def is_alive(state: DaemonState) -> bool:
    """True when the recorded process still runs and is the same process (not a reused pid).

    A zombie (exited, not yet reaped by its parent: a foreground daemon started
    by another program) has finished running, so it does not count.
    """
    return process_matches(state.pid, state.create_time)


def process_matches(pid: int, create_time: float) -> bool:
    """True when process `pid` runs and was created at `create_time` (so it is not a reused pid)."""
    import psutil

    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - create_time) >= 1.0:
            return False
        return process.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, OSError):
        return False
