"""`llmp keys` as a user runs it: real processes, a keyring shared with the daemon."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmp.cli.app import app
from tests.support.auth_upstream import requires_key
from tests.support.cli import run_llmp

pytestmark = pytest.mark.timeout(120)
KEY = "sk-live-0123456789abcdefXYZ1"


def write_config(home: Path, text: str) -> None:
    (home / "config.yaml").write_text(text, encoding="utf-8")


def upstream_config(url: str, name: str = "up", api_key: str = "keyring") -> str:
    return f"""
providers:
  {name}:
    type: openai
    base_url: {url}/v1
    api_key: {api_key}
    models: [gpt-4o-mini]
"""


def listing() -> dict:
    result = run_llmp("keys", "list", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def row(info: dict, name: str) -> dict:
    return next(r for r in info["keys"] if r["name"] == name)


def test_set_list_rm_in_the_keyring(test_keyring, isolated_env: Path) -> None:
    write_config(isolated_env, upstream_config("http://127.0.0.1:9"))
    stored = run_llmp("keys", "set", "up", "--stdin", stdin=KEY + "\n")
    assert stored.code == 0, stored.err
    assert "sk-…XYZ1" in stored.out and KEY not in stored.out + stored.err
    assert test_keyring.entries() == {"llmp/up": KEY}

    info = listing()
    assert info["keyring"] == {"backend": "tests.support.keyring_backend.TestFileKeyring",
                               "usable": True, "reason": ""}
    assert row(info, "up") == {"name": "up", "source": "keyring", "state": "keyring",
                               "present": True, "key": "sk-…XYZ1"}
    human = run_llmp("keys", "list")
    assert "TestFileKeyring" in human.out and "sk-…XYZ1" in human.out and KEY not in human.out

    removed = run_llmp("keys", "rm", "up")
    assert removed.code == 0 and "removed" in removed.out
    assert test_keyring.entries() == {}
    assert row(listing(), "up")["present"] is False
    again = run_llmp("keys", "rm", "up")
    assert again.code == 1 and "no stored key for up" in again.err

    events = [json.loads(line) for line in (isolated_env / "logs" / "audit.log").read_text().splitlines()]
    assert [(e["event"], e["name"]) for e in events] == [("key_set", "up"), ("key_removed", "up")]
    assert KEY not in (isolated_env / "logs" / "audit.log").read_text()


def test_sources_environment_and_config_literal(test_keyring, isolated_env: Path, monkeypatch) -> None:
    write_config(isolated_env, upstream_config("http://127.0.0.1:9") + """
  literal:
    type: openai
    base_url: http://127.0.0.1:9/v1
    api_key: sk-written-in-the-config-9876
""")
    monkeypatch.setenv("UP_API_KEY", "sk-from-the-environment-5555")
    info = listing()
    assert row(info, "up")["source"] == "environment" and row(info, "up")["key"] == "sk-…5555"
    assert row(info, "up")["state"] == "env UP_API_KEY"
    assert row(info, "literal")["source"] == row(info, "literal")["state"] == "config"
    stored = run_llmp("keys", "set", "up", "--stdin", stdin=KEY)
    assert "UP_API_KEY is set in this environment and takes precedence" in stored.out


@pytest.mark.parametrize("backend", ["keyring.backends.fail.Keyring",
                                     "keyrings.alt.file.PlaintextKeyring",
                                     "no.such.module.Backend"])
def test_no_safe_keyring_refuses_to_store(backend: str, isolated_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", backend)
    monkeypatch.setenv("XDG_DATA_HOME", str(isolated_env / "xdg"))  # where a plaintext keyring writes
    write_config(isolated_env, upstream_config("http://127.0.0.1:9"))
    refused = run_llmp("keys", "set", "up", "--stdin", stdin=KEY)
    assert refused.code == 1
    assert "no usable OS keyring" in refused.err and "llmp keys set up --file" in refused.err
    assert "UP_API_KEY" in refused.err
    assert not any(KEY in p.read_text(errors="replace") for p in isolated_env.rglob("*") if p.is_file())


def test_key_file_is_an_explicit_opt_in(isolated_env: Path) -> None:
    write_config(isolated_env, upstream_config("http://127.0.0.1:9"))  # conftest: the null keyring
    refused = run_llmp("keys", "set", "up", "--stdin", stdin=KEY)
    assert refused.code == 1 and "no usable OS keyring" in refused.err
    assert not (isolated_env / "keys.json").exists()

    stored = run_llmp("keys", "set", "up", "--stdin", "--file", stdin=KEY)
    assert stored.code == 0, stored.err
    key_file = isolated_env / "keys.json"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert json.loads(key_file.read_text()) == {"up": KEY}
    info = listing()
    assert info["keyring"]["usable"] is False
    assert info["keyring"]["backend"] == "keyring.backends.null.Keyring"
    assert info["key_file"] == str(key_file)
    assert row(info, "up") == {"name": "up", "source": "file", "state": "file",
                               "present": True, "key": "sk-…XYZ1"}
    assert run_llmp("keys", "rm", "up").code == 0
    assert not key_file.exists()


def test_hidden_prompt_never_echoes(test_keyring, isolated_env: Path) -> None:
    write_config(isolated_env, upstream_config("http://127.0.0.1:9"))
    result = CliRunner().invoke(app, ["keys", "set", "up"], input=KEY + "\n")
    assert result.exit_code == 0, result.output
    assert "Key for up" in result.output and KEY not in result.output
    assert test_keyring.entries() == {"llmp/up": KEY}


def test_key_test_directly_without_daemon(make_upstream, isolated_env: Path, monkeypatch) -> None:
    good, bad = make_upstream(), make_upstream()
    good.always(requires_key("sk-good-key-0000000000001"))
    bad.always(requires_key("sk-something-else-000000002"))
    write_config(isolated_env, upstream_config(good.url, "good") + f"""
  bad:
    type: openai
    base_url: {bad.url}/v1
    models: [gpt-4o-mini]
  down:
    type: openai
    base_url: http://127.0.0.1:9/v1
    models: [gpt-4o-mini]
  mock:
    type: mock
""")
    monkeypatch.setenv("GOOD_API_KEY", "sk-good-key-0000000000001")
    monkeypatch.setenv("BAD_API_KEY", "sk-wrong-key-000000000003")
    monkeypatch.setenv("DOWN_API_KEY", "sk-down-key-000000000004")
    result = run_llmp("keys", "test", "--json")
    assert result.code == 1, result.err
    report = json.loads(result.out)
    assert report["via"] == "direct"
    outcome = {r["provider"]: r["result"] for r in report["results"]}
    assert outcome == {"good": "valid", "bad": "invalid", "down": "unreachable", "mock": "not_needed"}
    assert "sk-wrong-key-000000000003" not in result.out + result.err
    assert good.requests[0].path == "/v1/models"
    assert good.requests[0].headers["Authorization"] == "Bearer sk-good-key-0000000000001"

    one = run_llmp("keys", "test", "good")
    assert one.code == 0 and "valid" in one.out
    unknown = run_llmp("keys", "test", "nope")
    assert unknown.code == 1 and "no provider named 'nope'" in unknown.err
