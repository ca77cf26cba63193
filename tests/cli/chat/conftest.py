"""One real daemon for the chat tests, serving a fake OpenAI upstream and the mock.

Starting and stopping a daemon per test would double the run time; each test
gets the shared one with its upstream and chat history reset (`fresh`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon_process import fresh, module_daemon
from tests.support.fake_upstream import FakeUpstream

# The fake model is priced so the footer's cost is the daemon's, as for any real model.
PRICES = "prices:\n  fake/gpt-fake: {input: 1000, output: 2000}\n"


@pytest.fixture(scope="package")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, FakeUpstream]]:
    home = tmp_path_factory.mktemp("llmp-home")
    with module_daemon(home, PRICES) as upstream:
        yield home, upstream


@pytest.fixture
def daemon(shared: tuple[Path, FakeUpstream], isolated_env: Path,
           monkeypatch: pytest.MonkeyPatch) -> FakeUpstream:
    return fresh(*shared, monkeypatch)
