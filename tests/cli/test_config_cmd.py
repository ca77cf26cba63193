"""`llmp config path/init/show/validate/edit`, and a newcomer's first hour on a fresh LLMP_HOME."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from llmp.core.starter_config import example_text
from tests.support.cli import run_llmp

BROKEN = "providers:\n  mock:\n    type: mock\n    modles: [mock-1]\n"


@pytest.fixture(autouse=True)
def _narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


def test_path_lists_every_file_and_which_exist(isolated_env: Path) -> None:
    result = run_llmp("config", "path", "--json")
    assert result.code == 0, result.err
    files = {f["name"]: f for f in json.loads(result.out)["files"]}
    assert files["config"] == {**files["config"], "path": str(isolated_env / "config.yaml"),
                               "exists": False}
    assert {"keys file", "daemon state", "log", "usage ledger", "audit log"} <= set(files)
    (isolated_env / "config.yaml").write_text("{}\n")
    again = {f["name"]: f for f in json.loads(run_llmp("config", "path", "--json").out)["files"]}
    assert again["config"]["exists"] is True


def test_init_writes_the_mock_and_every_provider_with_a_key(
    isolated_env: Path, test_keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk-from-the-environment-0000")
    test_keyring.set_password("llmp", "anthropic", "sk-ant-in-the-keyring-1111")
    result = run_llmp("config", "init")
    assert result.code == 0, result.err
    target = isolated_env / "config.yaml"
    text = target.read_text()
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert "  groq:" in text and "# key found: env GROQ_API_KEY" in text
    assert "  anthropic:" in text and "# key found: keyring" in text
    assert "  mock:" in text and "  # openai: {}" in text  # no key: offered, commented out
    assert "gsk-from" not in text and "sk-ant" not in text  # where a key is, never the key
    assert "groq (key: env GROQ_API_KEY)" in result.out
    validated = run_llmp("config", "validate")
    assert validated.code == 0, validated.err
    assert "3 providers (mock, anthropic, groq)" in validated.out.replace("\n", " ")


def test_init_refuses_to_overwrite_without_force(isolated_env: Path) -> None:
    target = isolated_env / "config.yaml"
    target.write_text("# mine\n")
    refused = run_llmp("config", "init")
    assert refused.code == 1 and "--force" in refused.err and "Traceback" not in refused.err
    assert target.read_text() == "# mine\n"
    assert run_llmp("config", "init", "--force", "--full").code == 0
    assert target.read_text() == example_text()  # the shipped example, whole


def test_show_applies_defaults_presets_variables_and_masks_keys(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("LLMP_PORT", "26042")
    (isolated_env / "config.yaml").write_text(
        "providers:\n  openai:\n    api_key: sk-written-in-the-config-9876\n"
        "    models:\n      - ${MY_MODEL}\n    headers: {Authorization: Bearer sk-header-secret-4321}\n")
    result = run_llmp("config", "show", "--json")
    assert result.code == 0, result.err
    config = json.loads(result.out)["config"]
    openai = config["providers"]["openai"]
    assert openai["base_url"] == "https://api.openai.com/v1" and openai["type"] == "openai"
    assert openai["models"] == ["gpt-4o-mini"] and config["server"]["port"] == 26042
    assert openai["api_key"] == "sk-…9876" and openai["headers"]["Authorization"] == "Bea…4321"
    assert config["defaults"]["retry"]["attempts"] == 2
    yaml_out = run_llmp("config", "show").out
    assert "sk-written" not in yaml_out + result.out and "sk-header" not in yaml_out
    assert yaml_out.index("server:") < yaml_out.index("providers:")


def test_validate_speaks_as_start_does(isolated_env: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN)
    result = run_llmp("config", "validate", str(broken))
    assert result.code == 1 and result.out == ""
    line = f"{broken}:4: providers.mock.modles: unknown option 'modles' (did you mean 'models'?)"
    assert result.err.strip() == f"error: {line}"
    started = run_llmp("start", "--config", str(broken))
    assert started.code == 1 and line in started.err
    data = json.loads(run_llmp("config", "validate", str(broken), "--json").out)
    assert data == {"file": str(broken), "valid": False, "errors": [line]}
    missing = run_llmp("config", "validate")
    assert missing.code == 1 and "llmp config init" in missing.err


def _editor(tmp_path: Path, writes: list[str]) -> str:
    """An editor that writes the next of `writes` into the file it is given, once per run."""
    script = tmp_path / "editor.py"
    state = tmp_path / "editor-runs"
    script.write_text(
        "import sys, pathlib\n"
        f"runs = pathlib.Path({str(state)!r})\n"
        "n = int(runs.read_text()) if runs.exists() else 0\n"
        "runs.write_text(str(n + 1))\n"
        f"texts = {writes!r}\n"
        "pathlib.Path(sys.argv[1]).write_text(texts[min(n, len(texts) - 1)])\n")
    return f"{sys.executable} {script}"


def test_edit_validates_on_save(isolated_env: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", _editor(tmp_path, [BROKEN]))
    refused = run_llmp("config", "edit")
    assert refused.code == 1
    assert "providers.mock.modles: unknown option" in refused.err
    assert "llmp start would refuse it" in refused.err
    good = "providers:\n  mock:\n    type: mock\n    models: [mock-1]\n"
    (tmp_path / "visual").mkdir()
    monkeypatch.setenv("VISUAL", _editor(tmp_path / "visual", [good]))  # VISUAL wins over EDITOR
    accepted = run_llmp("config", "edit", "--no-reload")
    assert accepted.code == 0, accepted.err
    assert "is valid" in accepted.out and (isolated_env / "config.yaml").read_text() == good


def test_edit_reloads_a_running_daemon(isolated_env: Path, tmp_path: Path, monkeypatch) -> None:
    (isolated_env / "config.yaml").write_text("server: {port: 0}\nproviders:\n  mock:\n    type: mock\n")
    assert run_llmp("start").code == 0
    try:
        monkeypatch.setenv("EDITOR", _editor(tmp_path, [
            "server: {port: 0}\nproviders:\n  mock:\n    type: mock\n  echo:\n    type: mock\n"]))
        edited = run_llmp("config", "edit", "--reload")
        assert edited.code == 0, edited.err
        assert "providers added echo" in edited.out
    finally:
        run_llmp("stop")


def test_status_shows_the_config_path_it_would_read(isolated_env: Path) -> None:
    before = run_llmp("status")
    assert str(isolated_env / "config.yaml") in before.out.replace("\n", "")
    assert "not there" in before.out and "llmp config init" in before.out
    info = json.loads(run_llmp("status", "--json").out)
    assert info["config_exists"] is False


def test_a_newcomers_first_session(isolated_env: Path) -> None:
    """config init -> validate -> start -> chat -> usage -> stop: every step clean."""
    steps = [("config", "init"), ("config", "validate"), ("start", "--port", "0"),
             ("chat", "hi"), ("usage",), ("providers",), ("status",), ("stop",)]
    outputs = {}
    try:
        for step in steps:
            result = run_llmp(*step, stdin="")
            assert result.code == 0, (step, result.err)
            assert "Traceback" not in result.out + result.err, step
            long = [line for line in result.out.splitlines()
                    if len(line) > 80 and str(isolated_env) not in line]  # a path is never broken
            assert not long, step
            outputs[step[0] if step[0] != "config" else " ".join(step)] = result.out
    finally:
        run_llmp("stop")
    assert outputs["chat"] == "hi\n"  # the mock echoes: a real answer without any key
    assert "mock/mock-1" in outputs["usage"]  # the model the chat used, whole
    assert "$0" in outputs["usage"]
    assert str(isolated_env / "config.yaml") in "".join(outputs["status"].split())  # wrapped, whole
    assert os.path.exists(isolated_env / "usage.sqlite3")
