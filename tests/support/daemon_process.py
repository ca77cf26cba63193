"""The real daemon as a process, with a config written into the test's LLMP_HOME.

It is started and stopped with the `llmp` program itself, as a user would, and
listens on a free port (`server.port: 0`), so tests never collide. Starting a
daemon takes seconds, so a test module may share one (`module_daemon`) and
reset its fake upstream before each test (`fresh`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from llmp.core.state import DaemonState, read_state
from tests.support.cli import run_llmp
from tests.support.fake_upstream import FakeUpstream
from tests.support.openai_server import openai_server


def write_config(home: Path, providers_yaml: str, extra: str = "") -> Path:
    path = home / "config.yaml"
    path.write_text("server:\n  port: 0\nproviders:\n" + providers_yaml + extra)
    return path


def fake_and_mock(upstream: FakeUpstream) -> str:
    """A provider `fake` (OpenAI-compatible, at the fake upstream) and the offline `mock`."""
    return f"""\
  fake:
    type: openai
    base_url: {upstream.url}/v1
    api_key: none
    models: [gpt-fake]
  mock:
    type: mock
    models: [mock-1]
"""


SHARED_DAEMON_ROUTING = """\
defaults:
  retry: {attempts: 0}
  circuit_breaker: {failure_threshold: 1000000, failure_rate: null}
"""


@contextmanager
def running_daemon(home: Path) -> Iterator[DaemonState]:
    result = run_llmp("start", "--port", "0")
    assert result.code == 0, result.err + result.out
    state = read_state(home / "daemon.json")
    assert state is not None
    try:
        yield state
    finally:
        run_llmp("stop")


@contextmanager
def module_daemon(home: Path, extra: str = "") -> Iterator[FakeUpstream]:
    """A daemon serving `fake_and_mock`, for a whole module's tests; `extra` is more config."""
    upstream = FakeUpstream().start()
    # Tests share this daemon: each failure reaches the client at once (no retries) and
    # never opens a circuit, so no test inherits another's routing state.
    write_config(home, fake_and_mock(upstream), SHARED_DAEMON_ROUTING + extra)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("LLMP_HOME", str(home))
            with running_daemon(home):
                yield upstream
    finally:
        upstream.stop()


def fresh(home: Path, upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> FakeUpstream:
    """Point this test at the shared daemon, with its upstream and chat history as new."""
    monkeypatch.setenv("LLMP_HOME", str(home))
    upstream.requests.clear()
    upstream.cancelled = 0
    upstream.always(openai_server())
    (home / "chat_history").unlink(missing_ok=True)
    return upstream
