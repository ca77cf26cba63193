"""The daemon's own stdout and stderr (`daemon.out` when detached), bounded.

The log file rotates; `daemon.out` does not, and a daemon in trouble (a
failing disk, a flood of refused connections) must not fill the disk through
it. Each stream takes `DAEMON_OUTPUT_LIMIT` bytes per run, says once that it
is full, and drops the rest.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import sys
from typing import Any, TextIO

from llmp.core.paths import DAEMON_OUTPUT_LIMIT


class BoundedOutput(io.TextIOBase):
    def __init__(self, real: TextIO, limit: int) -> None:
        self.real = real
        self.limit = limit
        self.written = 0
        self.full = False

    def write(self, text: str) -> int:
        if self.full:
            return len(text)
        self.written += len(text)
        try:
            if self.written > self.limit:
                self.full = True
                self.real.write(f"llmp: this output reached {self.limit:,} bytes; the rest of this "
                                "run's output is dropped (the log file keeps rotating)\n")
            else:
                self.real.write(text)
            self.real.flush()
        except (OSError, ValueError):  # a full disk here must not become an exception elsewhere
            pass
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.real.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.real.fileno()

    @property
    def encoding(self) -> Any:  # type: ignore[override]
        return self.real.encoding


def bound_output(limit: int = DAEMON_OUTPUT_LIMIT) -> None:
    """Bound stdout and stderr when they are files (a terminal or a pipe is someone watching)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        try:
            regular = stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
        except (OSError, ValueError, AttributeError):
            continue
        if regular:
            setattr(sys, name, BoundedOutput(stream, limit))
