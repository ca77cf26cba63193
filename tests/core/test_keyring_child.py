"""The daemon's keyring reader, a child process: whatever goes wrong in it, the daemon gets a
clear reason on every name it asked for, never a hang and never a key reported missing."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil
import pytest

from llmp.core import keyring_child
from tests.support.cli import llmp_env
from tests.support.keyring_backend import BACKEND, CRASHING_BACKEND, STUCK_BACKEND


@pytest.fixture
def child_env(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The child imports this checkout and the test backends."""
    monkeypatch.setenv("PYTHONPATH", llmp_env()["PYTHONPATH"])
    return isolated_env


def test_the_child_reads_the_keyring(child_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", BACKEND)
    (child_env / "test-keyring.json").write_text('{"llmp/up": "sk-up-1234"}')
    entries = keyring_child.read(["up", "other"])
    assert entries["up"].value == "sk-up-1234" and not entries["up"].refused
    assert entries["other"].value is None and not entries["other"].refused


def test_a_child_that_crashes_is_a_refusal_with_its_exit_code(child_env: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", CRASHING_BACKEND)
    entries = keyring_child.read(["up", "other"])
    assert {entry.refused for entry in entries.values()} == {"the keyring reader failed (exit code 3)"}


def test_a_child_that_never_answers_is_stopped_with_what_it_started(
        child_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", STUCK_BACKEND)
    monkeypatch.setattr(keyring_child, "TIMEOUT", 3.0)
    entries = keyring_child.read(["up"])
    assert entries["up"].refused == "the OS keyring did not answer within 3s"
    helper = psutil.Process(int((child_env / "stuck-helper.pid").read_text()))
    deadline = time.monotonic() + 10
    while helper.is_running() and helper.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.05)
    still_there = helper.is_running() and helper.status() != psutil.STATUS_ZOMBIE
    if still_there:
        helper.kill()
    assert not still_there, "the stuck child's helper was left running"


def test_a_binary_moved_away_since_the_daemon_started_is_named(
        child_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = child_env / "moved-away" / "llmp"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(gone))
    entries = keyring_child.read(["up"])
    assert entries["up"].refused.startswith(f"the keyring reader could not start: the llmp binary {gone} "
                                            "is no longer there")


def test_a_child_started_before_the_names_are_known_reads_them_when_told(
        child_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The daemon with a config file starts its reader first thing, and names the keys later."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", BACKEND)
    (child_env / "test-keyring.json").write_text('{"llmp/up": "sk-up-1234"}')
    keyring_child.start(None)
    entries = keyring_child.read(["up", "other"])
    assert entries["up"].value == "sk-up-1234"
    assert entries["other"].value is None and not entries["other"].refused


def test_a_child_started_early_and_never_asked_exits(child_env: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", BACKEND)
    before = {child.pid for child in psutil.Process().children()}
    keyring_child.start(None)
    [child] = [child for child in psutil.Process().children() if child.pid not in before]
    keyring_child.let_go()
    deadline = time.monotonic() + 30
    while child.is_running() and child.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not child.is_running(), "the reader nobody asked is still there (or was never reaped)"
