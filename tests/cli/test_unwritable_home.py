"""A home llmp cannot write: one line saying which path and what to do, exit 1, no traceback.

The tests may run as root, for whom a read-only folder is writable; a home
under a regular file (or a home that is a file) cannot be written by anyone.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.cli import run_llmp

# Each command that writes in the home, and what it is given on stdin.
WRITING = [("start", "--port", "0"), ("start", "--foreground", "--port", "0"),
           ("keys", "set", "openai", "--file"), ("config", "edit"), ("config", "init"),
           ("test",), ("chat", "hi")]


@pytest.fixture(params=["under a file", "a file"])
def unwritable_home(request: pytest.FixtureRequest, isolated_env: Path,
                    monkeypatch: pytest.MonkeyPatch) -> Path:
    blocker = isolated_env.parent / "blocker"
    blocker.write_text("not a folder\n")
    home = blocker / "home" if request.param == "under a file" else blocker
    monkeypatch.setenv("LLMP_HOME", str(home))
    monkeypatch.setenv("EDITOR", "true")
    return home


def one_clear_line(text: str, home: Path) -> None:
    assert "Traceback" not in text and "│" not in text, text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, text
    assert str(home) in errors[0] and "LLMP_HOME" in errors[0], text


@pytest.mark.parametrize("args", WRITING, ids=" ".join)
def test_a_command_that_writes_says_where_and_what_to_do(
        unwritable_home: Path, args: tuple[str, ...]) -> None:
    os.environ["COLUMNS"] = "400"  # the one line stays one line (conftest's monkeypatch restores it)
    result = run_llmp(*args, stdin="sk-abcdefghijklmnopqrstuvwxyz0123\n")
    assert result.code == 1, result.out + result.err
    one_clear_line(result.err, unwritable_home)


@pytest.mark.parametrize("args", [("status",), ("status", "--json"), ("usage",), ("logs",),
                                  ("config", "path"), ("config", "validate"), ("keys", "list"),
                                  ("stop",)], ids=" ".join)
def test_a_command_that_only_reads_answers_without_a_traceback(
        unwritable_home: Path, args: tuple[str, ...]) -> None:
    result = run_llmp(*args)
    assert result.code in (0, 1), result.err
    assert "Traceback" not in result.err + result.out and "│" not in result.err
