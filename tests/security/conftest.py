"""Fixtures for the security tests: the real daemon process with a config of the test's own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from llmp.core.state import DaemonState, read_state
from tests.support.cli import run_llmp


@pytest.fixture
def start_daemon(isolated_env: Path) -> Iterator[Callable[[str], DaemonState]]:
    """Write the config, start `llmp` detached on a free port, stop it after the test."""
    started = False

    def start(config_yaml: str) -> DaemonState:
        nonlocal started
        (isolated_env / "config.yaml").write_text(config_yaml, encoding="utf-8")
        result = run_llmp("start", "--port", "0")
        assert result.code == 0, result.err + result.out
        started = True
        state = read_state(isolated_env / "daemon.json")
        assert state is not None
        return state

    yield start
    if started:
        run_llmp("stop")
