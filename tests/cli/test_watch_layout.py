"""The live dashboard's last requests stay readable on a narrow terminal and complete on a wide one."""

from __future__ import annotations

import time

import pytest
from rich.console import Console

from llmp.cli.watch import render

STATS = {
    "rps": 3.4, "in_flight": 1, "error_rate": 0.25, "latency_p50_ms": 0.42, "latency_p95_ms": 812.3,
    "requests": 4, "uptime_s": 6, "base_url": "http://127.0.0.1:8484",
    "providers": [{"name": "anthropic", "health": "healthy", "circuit": "closed", "check_ms": 120.5}],
    "recent": [
        {"ts": time.time(), "request_id": "req_66c04b94f75bd0760000000000000012",
         "model": "claude-sonnet-4-5", "provider": "anthropic", "status": 429, "error_class": "rate_limited",
         "latency_ms": 1200,
         "ttft_ms": None, "tokens_in": None, "cost": None},
        {"ts": time.time(), "request_id": "r3", "model": "gpt-4o-mini", "provider": "openai", "status": 200,
         "latency_ms": 812, "ttft_ms": 301, "tokens_in": 1234, "tokens_out": 567, "cost": 0.000532,
         "streamed": True},
    ],
}


def drawn(width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(render(STATS, None, width))
    return console.export_text()


@pytest.mark.parametrize("width", [80, 120, 160])
def test_status_and_figures_are_never_cut(width: int) -> None:
    text = drawn(width)
    for whole in ("429 rate_limited", "1,200 ms", "812 ms", "1234→567 ⇣", "$0.0005", "p50 0.4 ms",
                  "p95 812 ms", "in flight 1", "errors 25.0%"):
        assert whole in text, (width, whole)
    assert all(len(line) <= width for line in text.splitlines())
    names = ("claude-sonnet-4-5", "gpt-4o-mini", "anthropic", "openai")
    assert all(name in text for name in names) if width >= 120 else "claude-so" in text
    assert "…" not in text  # a name that does not fit wraps; it is never cut


def test_a_wide_terminal_also_shows_the_time_to_first_token_and_request_ids() -> None:
    narrow, wide = drawn(80), drawn(160)
    assert "req_66c04b94f75bd0760000000000000012" in wide and "301 ms" in wide
    assert "req_66c0" not in narrow and "ttft" not in narrow


def test_names_from_clients_are_shown_literally_and_harmlessly() -> None:
    """A model name or request id is the client's: markup in it is text, escapes are shown."""
    hostile = "[/]\x1b]0;pwned\x07\x9b2J[bold]"
    entry = {**STATS["recent"][1], "request_id": hostile, "model": hostile, "error_class": hostile}
    stats = {**STATS, "recent": [entry],
             "providers": [{**STATS["providers"][0], "name": hostile}]}
    console = Console(width=300, record=True, color_system=None)
    console.print(render(stats, None, 300))
    text = console.export_text()
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert text.count(r"[/]\x1b]0;pwned\x07\x9b2J[bold]") == 4  # model, id, error, provider
