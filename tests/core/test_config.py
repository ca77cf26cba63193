"""Config loading: interpolation, precedence, errors that point at the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmp.core.config_loader import ConfigError, apply_overrides, load_config, parse_config


def test_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).resolve().parents[2] / "config.example.yaml"
    config = parse_config(example.read_text(), str(example))
    assert config.providers and config.models


def test_short_forms_and_presets() -> None:
    config = parse_config("""
providers:
  groq: {}
  local:
    preset: ollama
    timeout: 5
models:
  fast: [groq/llama-3.1-8b-instant, local/llama3.2]
""")
    assert config.providers["groq"].type == "openai"
    assert config.providers["groq"].base_url == "https://api.groq.com/openai/v1"
    assert config.providers["local"].base_url == "http://127.0.0.1:11434/v1"
    assert config.providers["local"].timeout.total == 5
    assert config.models["fast"].targets[1] == "local/llama3.2"
    assert config.models["fast"].strategy == "fallback"


def test_interpolation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_URL", "http://127.0.0.1:9999/v1")
    config = parse_config("""
providers:
  a:
    type: openai
    base_url: ${MY_URL}
    api_key: ${MISSING_KEY:-none}
""")
    assert config.providers["a"].base_url == "http://127.0.0.1:9999/v1"
    assert config.providers["a"].api_key == "none"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("server:\n  port: 99999\n", "config.yaml:2: server.port: Input should be less than"),
        ("providers:\n  openai:\n    modles: [a]\n",
         "config.yaml:3: providers.openai.modles: unknown option 'modles' (did you mean 'models'?)"),
        ("providers:\n  x:\n    base_url: http://a\n", "config.yaml:2: providers.x: 'type' is required"),
        ("providers:\n  x:\n    type: openai\n", "'base_url' is required"),
        ("providers:\n  x:\n    type: bogus\n", "unknown provider type 'bogus'"),
        ("providers:\n  x:\n    preset: olama\n", "unknown preset 'olama' (did you mean 'ollama'?)"),
        ("models:\n  s: [nope/m]\n", "config.yaml:2: models.s: target 'nope/m'"),
        ("a: [\n", "invalid YAML"),
        ("providers:\n  a:\n    type: mock\n    api_key: ${NOT_SET}\n",
         "config.yaml:4: providers.a.api_key: environment variable NOT_SET is not set"),
        ("- just a list\n", "must be a mapping"),
    ],
)
def test_errors_name_line_and_option(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert expected in str(caught.value)


def test_precedence_flag_over_env_over_file(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config("server:\n  port: 7000\n  host: 127.0.0.2\n")
    apply_overrides(config)
    assert config.server.port == 7000
    monkeypatch.setenv("LLMP_PORT", "7001")
    apply_overrides(config)
    assert config.server.port == 7001
    apply_overrides(config, port=7002, host="127.0.0.3")
    assert (config.server.port, config.server.host) == (7002, "127.0.0.3")
    monkeypatch.setenv("LLMP_PORT", "abc")
    with pytest.raises(ConfigError, match="LLMP_PORT"):
        apply_overrides(config)


def test_missing_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml", explicit=True)
    defaults = load_config(tmp_path / "nope.yaml")
    assert defaults.source is None
    assert list(defaults.config.providers) == ["mock"]
    monkeypatch.setenv("GROQ_API_KEY", "gsk_test_1234567890")
    assert "groq" in load_config(tmp_path / "nope.yaml").config.providers
