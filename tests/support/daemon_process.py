"""The real daemon as a process, with a config written into the test's LLMP_HOME.

It is started and stopped with the `llmp` program itself, as a user would, and
listens on a free port (`server.port: 0`), so tests never collide.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from llmp.core.state import DaemonState, read_state
from tests.support.cli import run_llmp


def write_config(home: Path, providers_yaml: str, extra: str = "") -> Path:
    path = home / "config.yaml"
    path.write_text("server:\n  port: 0\nproviders:\n" + providers_yaml + extra)
    return path


@contextmanager
def running_daemon(home: Path) -> Iterator[DaemonState]:
    result = run_llmp("start", "--port", "0")
    assert result.code == 0, result.err + result.out
    state = read_state(home / "daemon.json")
    assert state is not None
    try:
        yield state
    finally:
        run_llmp("stop")
