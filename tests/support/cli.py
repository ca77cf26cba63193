"""Running the real `llmp` program as a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_llmp(*args: str, timeout: float = 60, stdin: str | None = None) -> Result:
    process = subprocess.run(
        [sys.executable, "-m", "llmp", *args],
        capture_output=True, text=True, timeout=timeout, env=os.environ.copy(), input=stdin,
    )
    return Result(process.returncode, process.stdout, process.stderr)
