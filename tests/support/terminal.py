"""`llmp` in a pseudo-terminal, driven the way a person types (pexpect).

prompt_toolkit draws its prompt with cursor movements, so the literal prompt
text never appears in the output; it does switch bracketed paste on each time
it starts reading a line, and that is the marker `wait_prompt` waits for.
Cursor-position requests are turned off (nobody answers them here).
"""

from __future__ import annotations

import io
import re
import sys

import pexpect

from tests.support.cli import llmp_env

READY = "\x1b[?2004h"  # bracketed paste on: prompt_toolkit is reading a line
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|[\x08\r]")


def plain(text: str) -> str:
    return _ANSI.sub("", text)


class Terminal:
    def __init__(self, *args: str, timeout: float = 30, env: dict[str, str] | None = None) -> None:
        environment = llmp_env()
        environment.update(TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1", NO_COLOR="1",
                           COLUMNS="120", LINES="40")
        environment.update(env or {})
        self.log = io.StringIO()
        self.child = pexpect.spawn(
            sys.executable, ["-m", "llmp", *args], env=environment, encoding="utf-8",
            dimensions=(40, 120), timeout=timeout,
        )
        self.child.logfile_read = self.log

    def wait_prompt(self) -> None:
        self.child.expect_exact(READY)

    def say(self, line: str) -> None:
        """Type a line and press Enter."""
        self.child.send(line + "\r")

    def expect(self, pattern: str) -> str:
        """Wait for `pattern` (a regex) and return everything before it, without escapes."""
        self.child.expect(pattern)
        return plain(self.child.before)

    def interrupt(self) -> None:
        self.child.sendcontrol("c")

    def leave(self) -> int:
        """Ctrl-D at the prompt; the exit code."""
        self.child.sendcontrol("d")
        self.child.expect(pexpect.EOF)
        self.child.close()
        return self.child.exitstatus

    def output(self) -> str:
        return plain(self.log.getvalue())

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)
