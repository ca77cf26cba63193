"""What a client or an upstream wrote is shown, never acted on, by the terminal.

Escape sequences (OSC 52 writes the clipboard, OSC 0 the window title, CSI moves
the cursor) and line breaks reach llmp through request paths, headers, model
names and upstream errors, and from there its log, its ledger and its tables.
"""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import httpx
import pytest

from llmp.cli.tables import Column, render
from llmp.core.usage_db import COLUMNS, connect, insert_rows
from tests.support.cli import run_llmp

# Clipboard write, title change, a C1 CSI, DEL, a bidi override, and a line break that forges a line.
HOSTILE = "x\x1b]52;c;ZXZpbA==\x07\x1b]0;pwned\x07\x9b31m\x7f\u202e\nforged 00:00:00 ERROR fake"
# Anything a terminal acts on: every control character but the line breaks llmp prints itself.
ACTS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def harmless(text: str) -> None:
    found = ACTS.search(text)
    assert found is None, f"{found.group()!r} reached the terminal in {text!r}"


def test_llmp_logs_shows_escapes_for_what_a_client_sent(isolated_env: Path) -> None:
    (isolated_env / "config.yaml").write_text(
        "providers:\n  mock: {type: mock, models: [mock-1]}\nlogging: {level: debug}\n")
    started = run_llmp("start", "--port", "0")
    assert started.code == 0, started.err
    try:
        from llmp.core.state import read_state

        state = read_state(isolated_env / "daemon.json")
        assert state is not None
        path = "/v1/" + "".join(f"%{ord(c):02x}" if ord(c) < 0x80 else c for c in HOSTILE)
        assert httpx.get(state.base_url + path, timeout=10).status_code == 404
    finally:
        run_llmp("stop")  # the log writer flushes on the way out
    shown = run_llmp("logs", "-n", "1000")
    assert shown.code == 0, shown.err
    harmless(shown.out)
    assert r"x\x1b]52;c;ZXZpbA==\x07\x1b]0;pwned\x07\x9b31m\x7f\u202e\nforged" in shown.out
    assert not any(line.startswith("forged") for line in shown.out.splitlines())
    raw = run_llmp("logs", "-n", "1000", "--json")
    harmless(raw.out)
    paths = [json.loads(line)["msg"] for line in raw.out.splitlines()]  # every line still JSON
    assert any(HOSTILE in msg for msg in paths)  # and it says what was sent, exactly


def test_llmp_logs_escapes_lines_that_are_not_json(isolated_env: Path) -> None:
    (isolated_env / "logs").mkdir()
    record = {"ts": "2026-01-01T00:00:00.000Z", "level": "error", "logger": "llmp.daemon",
              "msg": HOSTILE, "request_id": HOSTILE, "exc": "Traceback\nValueError: \x1b]0;t\x07"}
    (isolated_env / "logs" / "llmp.log").write_text(
        json.dumps(record, ensure_ascii=False) + "\n" + "not json \x1b]0;t\x07\x9b2J\r\n",
        encoding="utf-8")
    shown = run_llmp("logs")
    harmless(shown.out)
    assert shown.out.splitlines()[1:] == [
        "Traceback", r"ValueError: \x1b]0;t\x07", r"not json \x1b]0;t\x07\x9b2J"]
    raw = run_llmp("logs", "--json")
    harmless(raw.out)
    assert json.loads(raw.out.splitlines()[0]) == record


def test_usage_table_shows_a_hostile_model_name_escaped(isolated_env: Path) -> None:
    db = connect(isolated_env / "usage.sqlite3")
    values = {"ts": time.time(), "request_id": "r1", "inbound": "openai", "operation": "chat",
              "requested_model": HOSTILE, "alias": HOSTILE, "client_key": HOSTILE,
              "provider": "mock", "model": HOSTILE,
              "tokens_in": 3, "tokens_out": 2, "tokens_cached": 0, "cost": 0.0, "estimated": 0,
              "latency_ms": 12.0, "ttft_ms": None, "status": 200, "attempts": 1, "streamed": 0,
              "cache_hit": 0}
    insert_rows(db, [tuple(values.get(column) for column in COLUMNS)])
    db.close()
    for by in ("model", "alias", "key"):
        table = run_llmp("usage", "--by", by, "--since", "2020-01-01", "--wide")
        assert table.code == 0, table.err
        harmless(table.out)
        assert r"\x1b]52;c;ZXZpbA==\x07" in table.out
        data = json.loads(run_llmp("usage", "--by", by, "--since", "2020-01-01", "--json").out)
        assert any(row["name"].endswith(HOSTILE) for row in data["rows"])


@pytest.mark.parametrize("kind", ["id", "url", "path", "text", "number", "plain"])
def test_every_kind_of_table_cell_escapes_control_characters(kind: str) -> None:
    from rich.console import Console

    for width, wide in ((80, False), (40, False), (80, True)):
        buffer = io.StringIO()
        out = Console(file=buffer, width=width, force_terminal=True, color_system=None)
        render(out, [Column("name"), Column("value", kind)], [["row", HOSTILE]], wide=wide)
        harmless(buffer.getvalue())
        assert "\\x1b" in buffer.getvalue()


def test_config_errors_quote_the_file_literally(isolated_env: Path) -> None:
    """A config error quotes the file; a name there may hold escapes, or what rich reads as markup."""
    (isolated_env / "config.yaml").write_text(
        'providers:\n  "x\\e]0;pwned\\a[/]":\n    type: no-such-type\n', encoding="utf-8")
    for args in (("config", "validate"), ("start", "--port", "0")):
        result = run_llmp(*args)
        assert result.code == 1, result.out
        assert "Traceback" not in result.err
        harmless(result.err)
        assert r"x\x1b]0;pwned\x07[/]" in result.err.replace("\n", "")
