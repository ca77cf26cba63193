"""Running the real `llmp` program as a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Result:
    code: int
    out: str
    err: str


def llmp_env() -> dict[str, str]:
    """The environment for a child `llmp`: it must import this checkout's code, not another."""
    import llmp

    source = Path(llmp.__file__).resolve().parents[1]
    env = os.environ.copy()
    # The checkout's root too, so a child can load test helpers such as the test keyring.
    paths = [str(source), str(source.parent), env.get("PYTHONPATH")]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    return env


def run_llmp(*args: str, timeout: float = 60, stdin: str | None = None) -> Result:
    process = subprocess.run(
        [sys.executable, "-m", "llmp", *args],
        capture_output=True, text=True, timeout=timeout, env=llmp_env(), input=stdin,
    )
    return Result(process.returncode, process.stdout, process.stderr)
