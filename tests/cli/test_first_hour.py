"""First-hour friction: --help placeholders, the `-m` hint, key prompts, shell completion."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.support.cli import run_llmp
from tests.support.daemon_process import write_config


@pytest.mark.parametrize("command", [(), ("start",), ("usage",), ("chat",), ("keys", "set"),
                                     ("test",), ("config", "validate"), ("providers",)])
@pytest.mark.parametrize("width", ["80", "120"])
def test_help_uses_conventional_placeholders(command: tuple[str, ...], width: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", width)
    result = run_llmp(*command, "--help")
    assert result.code == 0, result.err
    assert not re.search(r"<(bool|str|int|float|list\[str\])>|\{[a-z_]+\}", result.out), result.out
    assert all(len(line) <= int(width) for line in result.out.splitlines())


def test_placeholders_name_what_goes_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    start = run_llmp("start", "--help").out
    assert re.search(r"--port\s+INTEGER", start) and re.search(r"--host\s+TEXT", start)
    assert re.search(r"--foreground\s+-f\s+Run in this terminal", start)  # a flag: nothing
    assert "[provider|model|alias|day|key]" in run_llmp("usage", "--help").out
    assert "Usage: llmp keys set [OPTIONS] NAME" in run_llmp("keys", "set", "--help").out
    assert "Usage: llmp chat [OPTIONS] [PROMPT]..." in run_llmp("chat", "--help").out


def test_a_lone_value_after_m_hints_at_the_prompt(isolated_env: Path) -> None:
    write_config(isolated_env, "  mock:\n    type: mock\n    models: [mock-1]\n")
    try:
        result = run_llmp("chat", "-m", "hi", stdin="")
        assert result.code == 1 and "Traceback" not in result.err
        assert "nothing to send" in result.err
        assert 'the prompt is an argument: llmp chat "hi"' in result.err
        fine = run_llmp("chat", "-m", "mock/mock-1", stdin="")
        assert "the prompt is an argument" not in fine.err  # a real model name: no hint
    finally:
        run_llmp("stop")


def test_no_keyring_is_said_before_the_secret_is_asked(isolated_env: Path) -> None:
    """The conftest keyring is the null one: nothing may be prompted for."""
    write_config(isolated_env, "  mock:\n    type: mock\n")
    result = run_llmp("keys", "set", "client:team", stdin="sk-typed-for-nothing-1234\n")
    assert result.code == 1
    assert "Key for" not in result.out + result.err  # never prompted
    assert result.err.startswith("error: no usable OS keyring")
    assert "llmp keys set client:team --file" in result.err and "LLMP_CLIENT_KEY_TEAM" in result.err


def complete(words: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What bash completion offers for `words` (the word being completed is the last)."""
    parts = words.split(" ")
    monkeypatch.setenv("_LLMP_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", words)
    monkeypatch.setenv("COMP_CWORD", str(len(parts) - 1))
    try:
        result = run_llmp()
    finally:
        for name in ("_LLMP_COMPLETE", "COMP_WORDS", "COMP_CWORD"):
            monkeypatch.delenv(name)
    assert result.err == ""
    return result.out.split()


def test_completion_offers_providers_models_and_aliases(isolated_env: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(isolated_env, "  mock:\n    type: mock\n    models: [mock-1, mock-echo]\n"
                               "  local:\n    type: openai\n    base_url: http://127.0.0.1:9/v1\n"
                               "    api_key: none\n    models: [llama-3]\n",
                 "models:\n  fast: [mock/mock-1]\n")
    assert complete("llmp test ", monkeypatch) == ["mock", "local"]
    assert complete("llmp providers disable lo", monkeypatch) == ["local"]
    assert complete("llmp chat -m ", monkeypatch) == ["fast", "mock/mock-1", "mock/mock-echo",
                                                      "local/llama-3"]
    assert complete("llmp chat --model mock/mock-e", monkeypatch) == ["mock/mock-echo"]
    assert "jwt-secret" in complete("llmp keys set ", monkeypatch)
    os.environ.pop("LLMP_CONFIG", None)
    (isolated_env / "config.yaml").write_text("providers: [broken\n")
    assert complete("llmp test ", monkeypatch) == []  # a broken config: nothing, and no error


def test_chat_without_a_model_skips_a_provider_that_has_no_key(isolated_env: Path) -> None:
    write_config(isolated_env, "  openai:\n    models: [gpt-4o-mini]\n"
                               "  mock:\n    type: mock\n    models: [mock-1]\n")
    try:
        result = run_llmp("chat", "hi", stdin="")
        assert (result.code, result.out) == (0, "hi\n"), result.err  # the mock answered
        named = run_llmp("chat", "-m", "openai/gpt-4o-mini", "hi", stdin="")
        assert named.code == 1
        assert "set OPENAI_API_KEY or run `llmp keys set openai`" in named.err
    finally:
        run_llmp("stop")


def test_help_lists_each_command_with_the_first_paragraph_of_its_own_help(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`llmp --help` reads each summary without loading the command: it must still be the command's own."""
    monkeypatch.setenv("COLUMNS", "200")  # no wrapping: one line per command
    listing = run_llmp("--help").out
    rows = dict(re.findall(r"^│ (\w+) +(.+?) *│$", listing.split("Commands")[1], re.MULTILINE))
    assert list(rows) == ["start", "stop", "status", "reload", "logs", "chat", "test", "usage", "ui",
                          "providers", "keys", "config", "cache"]
    for name, summary in rows.items():
        own = run_llmp(name, "--help").out
        assert re.search(r"Usage: .*\n *\n (.+?) *\n", own).group(1) == summary, own
