"""Instructions a server process runs while a load is sent to it, counted by valgrind's callgrind.

Counting instructions instead of timing them gives the same figure run after run,
whatever else a shared machine is doing, and counts every thread of the process
(the event loop and the telemetry writers alike). The server starts with
counting off; after a warm-up and a pause for its background writers, counting
is switched on for the measured load and the pause after it, then dumped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def require_callgrind() -> None:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("counting instructions needs valgrind (with callgrind_control) on the PATH")


def count_instructions(
    command: list[str], env: dict[str, str], out: Path, *, warm_up: Callable[[str], None],
    measured: Callable[[str], None], settle: float,
) -> int:
    """Instructions of every thread of the server `command` starts while `measured` ran.

    The server prints its port on its first line of output. `settle` seconds
    pass after the warm-up and after the load, so that what the load left for
    background threads to write is counted with it and nothing earlier is.
    """
    process = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}", *command],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, **env})
    assert process.stdout is not None
    url = f"http://127.0.0.1:{process.stdout.readline().strip()}"
    try:
        warm_up(url)
        time.sleep(settle)
        subprocess.run(["callgrind_control", "--instr=on", str(process.pid)], check=True, capture_output=True)
        measured(url)
        time.sleep(settle)
        subprocess.run(["callgrind_control", "--dump", str(process.pid)], check=True, capture_output=True)
    finally:
        process.terminate()
        process.wait()
    dump = Path(f"{out}.1").read_text()
    totals = next(line for line in dump.splitlines() if line.startswith("totals:"))
    return int(totals.split()[1])
