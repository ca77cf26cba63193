"""Every table at 80 columns (a golden rendering) and at 120: it fits, and no identifier is cut.

The goldens live in tests/fixtures/cli_tables/; `UPDATE_GOLDEN=1 pytest tests/cli/test_tables.py`
rewrites them after a deliberate change (read the diff before committing it).
"""

from __future__ import annotations

import io
import json
import os
import re
import time
from pathlib import Path

import pytest

from llmp.cli.provider_check.checks import Check, ProviderReport
from llmp.cli.provider_check.report import print_table
from llmp.cli.providers import health_rows
from llmp.cli.tables import Column, count, money, render, shorten_url
from llmp.core.usage_db import COLUMNS, connect, insert_rows
from tests.support.cli import run_llmp

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "cli_tables"
AZURE = "https://my-company-resource.openai.azure.com/openai/deployments/gpt-4o-prod"
CONFIG = f"""
providers:
  openai:
    models: [gpt-4o-mini, gpt-4o, o3-mini, text-embedding-3-small]
  local-vllm-server:
    type: openai
    base_url: http://127.0.0.1:18080/v1
    api_key: none
    models: [meta-llama/Llama-3.1-8B-Instruct]
  anthropic:
    models: [claude-3-5-haiku-latest, claude-3-5-sonnet-latest]
  azure:
    base_url: {AZURE}
    models: [gpt-4o]
    enabled: false
  literal:
    type: openai
    base_url: http://localhost:9999/v1
    api_key: sk-written-in-the-config-9876
    models: ["*"]
  mock:
    type: mock
    models: [mock-1]
server:
  auth:
    keys:
      team: {{}}
"""
# What identifies a row in these tables: each must appear whole on one line at any width.
IDENTIFIERS = ["local-vllm-server", "127.0.0.1:18080", "anthropic/claude-3-5-haiku-latest",
               "anthropic/claude-3-5-sonnet-latest", "env OPENAI_API_KEY", "not needed",
               "my-company-resource.openai.azure.com", "meta-llama/Llama-3.1-8B-Instruct"]


def golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from {path}"


def fits(text: str, width: int) -> None:
    assert text.strip()
    widest = max(len(line) for line in text.splitlines())
    assert widest <= width, f"a line is {widest} columns wide:\n{text}"
    assert not re.search(r"[^/]…(\s|$)", text), text  # nothing cut at its end (masked keys: sk-…1234)


def whole(text: str, *identifiers: str) -> None:
    for identifier in identifiers:
        assert any(identifier in line for line in text.splitlines()), f"{identifier!r} cut in:\n{text}"


@pytest.fixture
def configured(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (isolated_env / "config.yaml").write_text(CONFIG)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment-5555")
    return isolated_env


def cli(width: int, *args: str, home: Path | None = None) -> str:
    os.environ["COLUMNS"] = str(width)  # conftest's monkeypatch restores the environment
    result = run_llmp(*args)
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    return result.out.replace(str(home), "$LLMP_HOME") if home else result.out


@pytest.fixture(autouse=True)
def _columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


def test_providers(configured: Path) -> None:
    narrow = cli(80, "providers")
    golden("providers_80", narrow)
    fits(narrow, 80)
    whole(narrow, "local-vllm-server", "http://127.0.0.1:18080/v1", "env OPENAI_API_KEY",
          "not needed", "missing", "/…/gpt-4o-prod")
    assert "missing (missing)" not in narrow
    wide = cli(120, "providers")
    fits(wide, 120)
    whole(wide, "https://my-company-resource.openai.azure.com/…/gpt-4o-prod", "gpt-4o-mini")
    assert AZURE in cli(80, "providers", "--wide")
    listing = json.loads(cli(80, "providers", "--json"))["providers"]
    assert {p["name"]: p["key_state"] for p in listing} == {
        "openai": "env OPENAI_API_KEY", "local-vllm-server": "not needed", "anthropic": "missing",
        "azure": "missing", "literal": "config", "mock": "not needed"}


def test_keys_list(configured: Path) -> None:
    narrow = cli(80, "keys", "list")
    golden("keys_list_80", narrow)
    fits(narrow, 80)
    whole(narrow, "env OPENAI_API_KEY", "not needed", "client:team", "sk-…5555")
    assert "none" not in narrow.split("\n", 1)[1]  # "not needed" and "missing", never "none"
    fits(cli(120, "keys", "list"), 120)


def _ledger(home: Path) -> None:
    db = connect(home / "usage.sqlite3")
    now = time.time()
    rows = []
    for alias, cost, tokens in (("anthropic/claude-3-5-haiku-latest", 0.00031, 1234),
                                ("anthropic/claude-3-5-sonnet-latest", 1.23456, 1_234_567),
                                ("chat", 0.0, 12)):
        values = {"ts": now, "request_id": alias, "inbound": "openai", "operation": "chat",
                  "requested_model": alias, "alias": alias, "provider": alias.split("/")[0],
                  "model": alias.split("/")[-1], "tokens_in": tokens, "tokens_out": tokens // 2,
                  "tokens_cached": 0, "cost": cost, "estimated": 0, "latency_ms": 1234.0,
                  "ttft_ms": None, "status": 200, "attempts": 1, "streamed": 0, "cache_hit": 0}
        rows.append(tuple(values.get(column) for column in COLUMNS))
    insert_rows(db, rows)
    db.close()


def test_usage(isolated_env: Path) -> None:
    _ledger(isolated_env)
    args = ("usage", "--by", "alias", "--since", "2020-01-01")
    narrow = cli(80, *args)
    golden("usage_by_alias_80", narrow)
    fits(narrow, 80)
    whole(narrow, "anthropic/claude-3-5-haiku-latest", "anthropic/claude-3-5-sonnet-latest",
          "$0.0003", "$1.23", "1.2M", "1.2k")
    wide = cli(120, *args, "--wide")
    whole(wide, "1,234,567", "$1.23456", "$0.00031")
    fits(cli(120, *args), 120)
    data = json.loads(cli(80, *args, "--json"))
    assert {row["name"]: row["cost"] for row in data["rows"]}["anthropic/claude-3-5-haiku-latest"] == 0.00031


def test_config_path_and_status(monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    isolated_env = Path(tempfile.mkdtemp(prefix="llmp-", dir="/tmp"))  # one length every run
    monkeypatch.setenv("LLMP_HOME", str(isolated_env))
    paths = cli(80, "config", "path", home=isolated_env)
    golden("config_path_80", paths)
    fits(paths, 80)
    status = cli(80, "status", home=isolated_env)
    golden("status_not_running_80", status)
    assert "$LLMP_HOME/config.yaml (not there" in status
    (isolated_env / "config.yaml").write_text("providers: {mock: {type: mock}}\n")
    info = json.loads(cli(80, "status", "--json"))
    assert info["config_path"] == str(isolated_env / "config.yaml") and info["config_exists"] is True


HEALTH = {"providers": [
    {"name": "anthropic", "enabled": True, "state": "degraded", "circuit": {"state": "half_open",
     "next_probe_in": 12.3}, "latency_p50": 0.4321, "latency_p95": 1.9876, "ttft_p50": 0.2,
     "error_rate_5m": 0.25, "requests": 1234, "last_checked": None,
     "last_error": "upstream answered 529: Overloaded, please retry after a while",
     "deployments": [
         {"model": "claude-3-5-sonnet-latest", "enabled": True, "state": "degraded",
          "circuit": {"state": "open", "next_probe_in": 12.3}, "latency_p50": 0.5,
          "latency_p95": 2.0, "ttft_p50": None, "error_rate_5m": 0.5, "requests": 40,
          "last_checked": None, "last_error": "overloaded"}]},
    {"name": "local-vllm-server", "enabled": False, "state": "healthy",
     "circuit": {"state": "closed"}, "latency_p50": None, "latency_p95": None, "ttft_p50": None,
     "error_rate_5m": None, "requests": 0, "last_checked": None, "last_error": None,
     "deployments": []},
]}


def rendered(width: int, draw) -> str:
    from rich.console import Console

    buffer = io.StringIO()
    draw(Console(file=buffer, width=width, no_color=True, highlight=False))
    return buffer.getvalue()


def test_providers_health() -> None:
    narrow = rendered(80, lambda out: render(out, *health_rows(HEALTH)))
    golden("providers_health_80", narrow)
    fits(narrow, 80)
    whole(narrow, "claude-3-5-sonnet-latest", "local-vllm-server", "disabled", "half-open 12s")
    wide = rendered(120, lambda out: render(out, *health_rows(HEALTH)))
    fits(wide, 120)
    whole(wide, "1.2k", "432 ms", "2.0 s")


def test_llmp_test_report() -> None:
    report = ProviderReport("local-vllm-server", "meta-llama/Llama-3.1-8B-Instruct", [
        Check("key", "ok", detail="not needed"),
        Check("reachable", "ok", 12.0, "3 models listed"),
        Check("authenticated", "ok"),
        Check("completion", "ok", 1234.0, "meta-llama/Llama-3.1-8B-Instruct"),
        Check("stream", "fail", detail="the stream ended without its last event: the upstream "
              "closed the connection after 12 chunks"),
        Check("embeddings", "skip", detail="no embedding model listed (give one with "
              "--embedding-model)")])
    nokey = ProviderReport("anthropic", None, [Check(
        "key", "fail", detail="no API key for provider 'anthropic': set ANTHROPIC_API_KEY or run "
        "`llmp keys set anthropic`")])
    narrow = rendered(80, lambda out: print_table(out, [report, nokey], "direct"))
    golden("test_report_80", narrow)
    fits(narrow, 80)
    whole(narrow, "local-vllm-server", "meta-llama/Llama-3.1-8B-Instruct", "ANTHROPIC_API_KEY")
    fits(rendered(120, lambda out: print_table(out, [report, nokey], "direct")), 120)


def test_rounding_and_shortening() -> None:
    assert [money(v) for v in (0, 0.00031, 0.0123, 1.23456, 1234.5)] == [
        "$0", "$0.0003", "$0.01", "$1.23", "$1,234.50"]
    assert [count(v) for v in (12, 999, 1234, 1_234_567, 2_000_000_000)] == [
        "12", "999", "1.2k", "1.2M", "2G"]
    assert shorten_url(AZURE) == "https://my-company-resource.openai.azure.com/…/gpt-4o-prod"
    assert shorten_url("http://127.0.0.1:18080") == "http://127.0.0.1:18080"


def test_values_print_literally() -> None:
    """A value is data: rich markup in a model name prints as written."""
    text = rendered(80, lambda out: render(out, [Column("model")], [["[red]not red[/]"]]))
    assert "[red]not red[/]" in text
