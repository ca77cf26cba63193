"""Everything llmp keeps in its home is its owner's alone: folders 0700, the ledger and its WAL 0600.

Prompts (with `usage.log_bodies`), costs and request history live there; another
user of the machine must not read them, however the home was made before.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from tests.support.cli import run_llmp

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX permissions")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_an_open_home_and_an_old_ledger_are_tightened_and_new_files_are_private(
        isolated_env: Path) -> None:
    home = isolated_env
    os.chmod(home, 0o755)  # made by hand, or by an older llmp
    ledger = home / "usage.sqlite3"
    sqlite3.connect(ledger).close()
    os.chmod(ledger, 0o644)
    (home / "config.yaml").write_text(
        "server:\n  port: 0\nproviders:\n  mock:\n    type: mock\n    models: [mock-1]\n"
        "usage:\n  log_bodies: true\n")
    try:
        started = run_llmp("start")
        assert started.code == 0, started.err
        assert f"{home} was readable by others (mode 755)" in started.err  # said, not silently fixed
        answered = run_llmp("chat", "-m", "mock-1", "a prompt nobody else may read")
        assert answered.code == 0, answered.err
        assert run_llmp("usage").code == 0  # the daemon commits its rows first: the WAL exists
    finally:
        assert run_llmp("stop").code == 0
    assert mode(home) == 0o700
    assert mode(home / "logs") == 0o700
    sqlite_files = [p for p in home.iterdir() if p.name.startswith("usage.sqlite3")]
    assert ledger in sqlite_files
    assert {p.name: mode(p) for p in sqlite_files} == {p.name: 0o600 for p in sqlite_files}
