"""Every test gets its own LLMP_HOME, no provider keys from the developer's
environment, no real keyring, and no real Ollama."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from llmp.core.presets import PRESETS
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import Gateway
from tests.support.keyring_backend import BACKEND as KEYRING_BACKEND
from tests.support.keyring_backend import TestFileKeyring

_KEY_VARIABLES = {name for preset in PRESETS.values() for name in preset.key_env}


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "llmp-home"
    home.mkdir(mode=0o700)  # as llmp makes it (a home others can read is tightened with a warning)
    for name in list(os.environ):
        if name in _KEY_VARIABLES or name.startswith("LLMP_") or name.endswith("_API_KEY"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LLMP_HOME", str(home))
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    monkeypatch.setenv("NO_COLOR", "1")
    return home


@pytest.fixture
def test_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestFileKeyring]:
    """A working keyring (a JSON file in LLMP_HOME) for this process and every child."""
    import keyring
    from keyring.backends.null import Keyring as NullKeyring

    from llmp.core import keyring_store

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", KEYRING_BACKEND)
    backend = TestFileKeyring()
    keyring.set_keyring(backend)
    keyring_store.status.cache_clear()
    yield backend
    keyring.set_keyring(NullKeyring())
    keyring_store.status.cache_clear()


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


@pytest.fixture
def make_upstream() -> Iterator[Callable[[], FakeUpstream]]:
    started: list[FakeUpstream] = []

    def make() -> FakeUpstream:
        fake = FakeUpstream().start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()


@pytest.fixture
def make_gateway() -> Iterator[Callable[[str], Gateway]]:
    started: list[Gateway] = []

    def make(config_yaml: str, **runtime_options: object) -> Gateway:
        gateway = Gateway(config_yaml, **runtime_options)
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        gateway.stop()
