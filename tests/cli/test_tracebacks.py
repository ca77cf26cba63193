"""A crash in a command prints neither the locals that may hold a key nor a key in its message."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.cli import llmp_env

LOCAL = "plain-local-secret-value-with-no-key-shape-1"
QUOTED = "sk-proj-quoted-by-the-upstream-error-0000000001"
SCRIPT = f"""
import os
import sys
from llmp.cli.app import app
from llmp.entry import main

mode = os.environ["MODE"]
if mode == "locals":
    app.pretty_exceptions_show_locals = True

@app.command()
def boom() -> None:
    provider_key = "{LOCAL}"
    raise RuntimeError("the upstream refused the key {QUOTED}")

sys.argv = ["llmp", "boom"]
app() if mode == "bypass" else main()  # bypass: past llmp's entry point, as a bare Typer app
"""


def crash(mode: str = "real") -> str:
    env = {**llmp_env(), "TERM": "xterm", "COLUMNS": "200", "MODE": mode}
    env.pop("_TYPER_STANDARD_TRACEBACK", None)
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 1
    return result.stderr


@pytest.mark.timeout(120)
def test_pretty_exceptions_show_no_locals_and_no_key() -> None:
    shown = crash()
    assert "RuntimeError" in shown and "the upstream refused the key" in shown
    assert LOCAL not in shown
    assert QUOTED not in shown and "sk-…0001" in shown
    # The controls: with locals switched on the local is printed, and a crash that escapes
    # past llmp's entry point prints the key. So each check above can fail.
    assert LOCAL in crash("locals")
    assert QUOTED in crash("bypass")
