"""Keys typed while a reply is drawn must not be echoed into the drawing.

The live region is redrawn by moving the cursor up a counted number of lines.
The terminal echoes what the user types between prompts (`^C` when Ctrl-C
stops a reply, or an impatient next question), and an echo at the end of a
full-width line wraps the cursor one line down: the count is then off by one
and the reply's first line is left behind, printed twice. So echo is off while
a reply is shown. Ctrl-C still interrupts (signals stay on), and what was typed
stays queued for the next prompt.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def echo_off() -> Iterator[None]:
    """No echo on the controlling terminal inside the block; nothing changes without one."""
    try:
        import termios
    except ImportError:  # Windows: the console has no such echo
        yield
        return
    stdin = sys.stdin
    if stdin is None or not stdin.isatty():
        yield
        return
    descriptor = stdin.fileno()
    try:
        saved = termios.tcgetattr(descriptor)
    except termios.error:
        yield
        return
    quiet = [*saved]
    quiet[3] = saved[3] & ~termios.ECHO
    termios.tcsetattr(descriptor, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(descriptor, termios.TCSANOW, saved)
