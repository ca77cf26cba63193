"""Which keyrings count as usable: real ones only, whatever `keyring` falls back to."""

from __future__ import annotations

import keyring
import pytest
from keyring.backends.chainer import ChainerBackend
from keyring.backends.fail import Keyring as FailKeyring
from keyring.backends.null import Keyring as NullKeyring
from keyrings.alt.file import PlaintextKeyring

from llmp.core import keyring_store
from tests.support.keyring_backend import TestFileKeyring


@pytest.fixture
def use_backend(monkeypatch):
    def use(backend: object) -> keyring_store.KeyringStatus:
        monkeypatch.setattr(keyring, "get_keyring", lambda: backend)
        keyring_store.status.cache_clear()
        return keyring_store.status()

    yield use
    keyring_store.status.cache_clear()


@pytest.mark.parametrize("backend", [NullKeyring(), FailKeyring(), PlaintextKeyring()])
def test_fallback_backends_are_not_usable(use_backend, backend) -> None:
    status = use_backend(backend)
    assert status.usable is False and "does not store secrets safely" in status.reason
    with pytest.raises(keyring_store.KeyringUnavailable, match="no usable OS keyring"):
        keyring_store.put("openai", "sk-would-be-stored-in-clear-0001")
    assert keyring_store.get("openai") is None and keyring_store.delete("openai") is False


@pytest.mark.parametrize(("chained", "usable"), [
    ([], False), ([PlaintextKeyring()], False), ([PlaintextKeyring(), TestFileKeyring()], True),
])
def test_a_chainer_is_as_good_as_what_it_chains(use_backend, monkeypatch, chained, usable) -> None:
    monkeypatch.setattr(ChainerBackend, "backends", chained)
    assert use_backend(ChainerBackend()).usable is usable


def test_a_backend_that_cannot_load_reads_as_none(monkeypatch) -> None:
    def broken() -> object:
        raise RuntimeError("dbus is not running")

    monkeypatch.setattr(keyring, "get_keyring", broken)
    keyring_store.status.cache_clear()
    try:
        status = keyring_store.status()
        assert status == keyring_store.KeyringStatus(
            "unavailable", False, "the keyring could not load (RuntimeError)")
        assert keyring_store.get("openai") is None
    finally:
        keyring_store.status.cache_clear()


def test_a_real_backend_stores_and_removes(test_keyring) -> None:
    assert keyring_store.status().usable
    keyring_store.put("groq", "gsk-a-real-looking-key-00000001")
    assert keyring_store.get("groq") == "gsk-a-real-looking-key-00000001"
    assert keyring_store.delete("groq") is True and keyring_store.delete("groq") is False
