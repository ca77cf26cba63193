"""A reader that stops reading ends any command quietly, with exit status 0.

`llmp keys list | head -1`: once `head` has its line it closes the pipe, and
the next write raises BrokenPipeError. Click and rich turn that into exit
status 1 (and a shell with `pipefail` then reports a failure nobody made), so the
`llmp` group catches it first, both while parsing (`--help`, `--version`) and
while a command runs, and exits 0 as `cat` or `grep` would. Output still in
Python's buffers would fail again at interpreter exit, so the entry point
flushes them itself, and standard output and error are pointed at the null
device before leaving. (No Typer here: a plain `llmp start` runs before it
loads; the group itself is in `pipe_safe_group`.)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn


def quiet_exit() -> NoReturn:
    """Stop now, without a word and with status 0: whoever read our output has gone."""
    null = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(null, stream.fileno())
        except (OSError, ValueError, AttributeError):  # no real file behind it (a test runner)
            continue
    os.close(null)
    raise SystemExit(0)


def flush_or_quiet_exit() -> None:
    """Flush what the command printed; a reader gone by now also means `quiet_exit`."""
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except BrokenPipeError:
        quiet_exit()


@contextmanager
def quiet_on_closed_pipe() -> Iterator[None]:
    """Around what writes a command's output: a broken pipe, or rich's own answer to one (a
    SystemExit(1) raised while handling it: `Console.on_broken_pipe`), means `quiet_exit`;
    anything else goes on up."""
    try:
        yield
    except (BrokenPipeError, SystemExit) as exc:
        if isinstance(exc, BrokenPipeError) or isinstance(exc.__context__, BrokenPipeError):
            quiet_exit()
        raise
