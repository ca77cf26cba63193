"""What the OS keyring cannot do is said before storing, and a refusal is never a "missing" key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run_llmp
from tests.support.keyring_backend import DENIED_BACKEND, WINDOWS_BACKEND, TestFileKeyring

pytestmark = pytest.mark.timeout(120)
CONFIG = """
providers:
  up:
    type: openai
    base_url: http://127.0.0.1:9/v1
    api_key: keyring
    models: [gpt-4o-mini]
"""


@pytest.fixture
def windows_vault(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """keyring's Windows Credential Locker backend (storing in a test file)."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", WINDOWS_BACKEND)
    (isolated_env / "config.yaml").write_text(CONFIG, encoding="utf-8")
    return isolated_env


def test_a_key_over_the_windows_limit_is_refused_before_storing(windows_vault: Path) -> None:
    key = "sk-" + "x" * 1278  # 1,281 characters: 2,562 bytes as UTF-16
    refused = run_llmp("keys", "set", "up", "--stdin", stdin=key)
    assert refused.code == 1
    assert "the key is 2,562 bytes as Windows stores it (UTF-16)" in refused.err
    assert "keeps at most 2,560 bytes" in refused.err
    assert "llmp keys set up --file" in refused.err and "UP_API_KEY" in refused.err
    assert key not in refused.out + refused.err
    assert TestFileKeyring().entries() == {}


def test_a_key_within_the_windows_limit_goes_on_to_the_keyring(windows_vault: Path) -> None:
    key = "sk-" + "x" * 1277  # 1,280 characters: exactly 2,560 bytes
    result = run_llmp("keys", "set", "up", "--stdin", stdin=key)
    assert result.code == 0, result.err
    assert TestFileKeyring().entries() == {"llmp/up": key}


def test_a_keyring_that_refuses_to_read_is_reported_not_missing(isolated_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", DENIED_BACKEND)
    (isolated_env / "config.yaml").write_text(CONFIG, encoding="utf-8")
    listed = run_llmp("keys", "list", "--json")
    assert listed.code == 0, listed.err
    row = next(r for r in json.loads(listed.out)["keys"] if r["name"] == "up")
    assert row["source"] == "keyring refused" and row["present"] is False
    assert "refused to hand over the key for 'up'" in row["problem"]
    assert "User interaction is not allowed" in row["problem"]
    assert "security unlock-keychain" in row["problem"] and "UP_API_KEY" in row["problem"]

    human = run_llmp("keys", "list")
    assert "keyring refused" in human.out and "security unlock-keychain" in human.out


def test_a_key_file_entry_still_serves_when_the_keyring_refuses(isolated_env: Path, monkeypatch) -> None:
    (isolated_env / "config.yaml").write_text(CONFIG, encoding="utf-8")
    stored = run_llmp("keys", "set", "up", "--stdin", "--file", stdin="sk-in-the-key-file-1234")
    assert stored.code == 0, stored.err
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", DENIED_BACKEND)
    row = next(r for r in json.loads(run_llmp("keys", "list", "--json").out)["keys"] if r["name"] == "up")
    assert row == {"name": "up", "source": "file", "state": "file", "present": True, "key": "sk-…1234"}
