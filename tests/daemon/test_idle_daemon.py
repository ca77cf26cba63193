"""An idle daemon sleeps: nothing in it wakes on a timer while no request comes.

Its heap is settled after start-up and after requests (`daemon/heap.py`); a
settling task that looked for a pause every half second woke the event loop
twice a second for the daemon's whole life, on laptops that run it for days.
"""

from __future__ import annotations

import time
from pathlib import Path

import psutil

from tests.support.cli import run_llmp
from tests.support.daemon_process import running_daemon

WATCH = 3.0  # seconds: a timer every 0.5 s would wake the loop six times


def wake_ups(pid: int, seconds: float) -> int:
    """How often the daemon's main thread (its event loop) went to sleep and woke again."""
    thread = psutil.Process(pid)  # on Linux: the process's main thread's own counters
    before = thread.num_ctx_switches().voluntary
    time.sleep(seconds)
    return thread.num_ctx_switches().voluntary - before


def test_an_idle_daemon_does_not_wake_up(isolated_env: Path) -> None:
    with running_daemon(isolated_env) as state:
        assert run_llmp("status").code == 0  # a request served: the heap settles after it
        time.sleep(1.5)  # start-up's and that request's settling are over
        assert wake_ups(state.pid, WATCH) <= 2
