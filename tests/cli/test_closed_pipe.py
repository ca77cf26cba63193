"""`llmp ... | head -1`: a reader that closes the pipe early ends the command quietly, status 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import llmp_env

pytestmark = pytest.mark.timeout(60)


def run_into_closed_pipe(*args: str) -> subprocess.CompletedProcess[bytes]:
    """Run llmp with its standard output a pipe whose reader has already gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE, as after `head` has its line
    try:
        return subprocess.run([sys.executable, "-m", "llmp", *args], stdout=write_end,
                              stderr=subprocess.PIPE, env=llmp_env(), timeout=50)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("args", [("keys", "list"), ("keys", "list", "--json"), ("--help",),
                                  ("--version",), ("providers",), ("status",)])
def test_a_closed_pipe_ends_the_command_quietly(args: tuple[str, ...], isolated_env: Path) -> None:
    result = run_into_closed_pipe(*args)
    assert result.stderr.decode() == ""
    assert result.returncode == 0


def test_a_real_error_still_fails(isolated_env: Path) -> None:
    result = run_into_closed_pipe("keys", "rm", "nothing-stored")
    assert result.returncode == 1
    assert b"no stored key for nothing-stored" in result.stderr
