"""Config loading: interpolation, precedence, errors that point at the line."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from ruamel.yaml import YAML

from llmp.core.config_loader import ConfigError, apply_overrides, load_config, parse_config
from llmp.core.config_schema import Config

EXAMPLE = Path(str(files("llmp") / "data" / "config.example.yaml"))  # the copy the package ships
# A commented-out option in the example: `  #   key: value`, indented like the YAML it would be.
_COMMENTED_OPTION = re.compile(r"^(\s*)# ( *[a-z_][a-z0-9_-]*:(?:\s.*)?)$", re.MULTILINE)


def test_example_config_is_valid() -> None:
    config = parse_config(EXAMPLE.read_text(), str(EXAMPLE))
    assert config.providers and config.models
    for section in ("server", "logging", "defaults", "usage"):  # "every option, with its default"
        assert getattr(config, section) == type(getattr(config, section))(), section


def test_example_config_shows_every_option() -> None:
    """Every option of the schema is in the example, written out or commented out, and valid either way.

    An option of a shape used in several places (`retry` under `defaults` and under a provider)
    is shown once; each place the shape can go is shown too.
    """
    text = _COMMENTED_OPTION.sub(r"\1\2", EXAMPLE.read_text())
    parse_config(text, str(EXAMPLE))  # what a user gets by uncommenting is valid too
    written = set(_present(Config, YAML(typ="safe").load(text)))
    missing = sorted(f"{model}.{name}" for model, name in set(_options(Config)) - written)
    assert missing == []


def _nested(annotation: Any) -> tuple[bool, type[BaseModel]] | None:
    """The model an option holds: (False, M) for an M, (True, M) for a mapping of names to Ms."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return next(filter(None, map(_nested, typing.get_args(annotation))), None)
    if typing.get_origin(annotation) is dict:
        inner = _nested(typing.get_args(annotation)[1])
        return (True, inner[1]) if inner and not inner[0] else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return False, annotation
    return None


def _options(model: type[BaseModel]) -> Iterator[tuple[str, str]]:
    for name, field in model.model_fields.items():
        yield model.__name__, name
        inner = _nested(field.annotation)
        if inner:
            yield from _options(inner[1])


def _present(model: type[BaseModel], data: Any) -> Iterator[tuple[str, str]]:
    for name, value in data.items() if isinstance(data, dict) else ():
        yield model.__name__, name
        inner = _nested(model.model_fields[name].annotation)
        for item in ((value or {}).values() if inner and inner[0] else [value]) if inner else []:
            yield from _present(inner[1], item)


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
        ("providers:\n  a:\n    type: mock\n    api_key: ${KEY\n",
         "config.yaml:4: providers.a.api_key: malformed variable in '${KEY' (write ${NAME} or"),
        ("providers:\n  a:\n    type: mock\n    api_key: x-${1BAD}\n", "malformed variable"),
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
