"""A config nested deeper than the YAML reader can follow is a config error naming the file.

100,000 nested brackets once made `llmp reload` answer "internal error",
`llmp config validate` print a traceback and `llmp start` say only "maximum
recursion depth exceeded".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llmp.core.state import read_state
from tests.support.cli import run_llmp

MOCK = "providers:\n  mock: {type: mock, models: [mock-1]}\n"
DEPTH = 100_000


@pytest.fixture(params=["list", "mapping"])
def deep_yaml(request: pytest.FixtureRequest) -> str:
    if request.param == "list":
        return MOCK + "models:\n  deep: " + "[" * DEPTH + "]" * DEPTH + "\n"
    return MOCK + "models:\n  deep: " + "{a: " * DEPTH + "1" + "}" * DEPTH + "\n"


def said_clearly(text: str, config: Path) -> None:
    assert "Traceback" not in text and "internal error" not in text, text
    assert str(config) in text and "nested too deeply" in text, text


def test_validate_and_start_name_the_file(isolated_env: Path, deep_yaml: str) -> None:
    config = isolated_env / "config.yaml"
    config.write_text(deep_yaml)
    for args in (("config", "validate"), ("start", "--port", "0")):
        result = run_llmp(*args)
        assert result.code == 1, result.out
        said_clearly(result.err, config)
    assert read_state(isolated_env / "daemon.json") is None


def test_reload_refuses_it_and_keeps_serving(isolated_env: Path, deep_yaml: str) -> None:
    config = isolated_env / "config.yaml"
    config.write_text(MOCK)
    assert run_llmp("start", "--port", "0").code == 0
    try:
        config.write_text(deep_yaml)
        result = run_llmp("reload")
        assert result.code == 1
        said_clearly(result.err, config)
        assert "config not reloaded" in result.err
        config.write_text(MOCK)
        assert run_llmp("reload").code == 0  # the daemon is still there, and still reloads
    finally:
        run_llmp("stop")
