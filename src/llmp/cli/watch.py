"""`llmp status --watch`: a live dashboard of the running daemon.

It polls `/admin/stats` and redraws in place with rich's `Live` (one frame per
poll, no auto refresh in between, so nothing flickers). A daemon that stops
answering is shown as such and polled again; Ctrl-C leaves cleanly.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from llmp.cli.tables import cell, duration, money
from llmp.cli.visible import visible
from llmp.core.paths import resolve_paths

HEALTH_STYLE = {"healthy": "green", "degraded": "yellow", "down": "red", "unauthorized": "red",
                "unknown": "dim"}
# The last requests' columns a terminal needs this many columns for: a narrower one leaves them out.
NEEDS_WIDTH = {"request": 150, "ttft": 100, "time": 100}
CIRCUIT_STYLE = {"closed": "green", "half_open": "yellow", "open": "red", "unknown": "dim"}


def watch(interval: float) -> None:
    from rich.live import Live

    with Live(render(None, "connecting…"), auto_refresh=False, transient=False) as live:
        try:
            while True:
                stats, problem = poll()
                live.update(render(stats, problem, live.console.width), refresh=True)
                time.sleep(interval)
        except KeyboardInterrupt:
            pass


def poll() -> tuple[dict[str, Any] | None, str | None]:
    from llmp.cli.admin_client import DaemonUnreachable, admin_request
    from llmp.cli.daemon_control import live_state

    state = live_state(resolve_paths())
    if state is None:
        return None, "llmp is not running (start it with llmp start)"
    try:
        stats = admin_request(state, "GET", "/admin/stats", timeout=2.0)
    except DaemonUnreachable as exc:
        return None, str(exc)
    stats["base_url"] = state.base_url
    return stats, None


def render(stats: dict[str, Any] | None, problem: str | None, width: int = 200) -> Any:
    from rich import box
    from rich.columns import Columns
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    if stats is None:
        return Panel(Text(visible(problem or ""), style="red"), title="llmp", title_align="left")
    summary = Columns([  # a terminal too narrow for one row of figures gets two
        _figure("req/s", f"{stats['rps']:.2f}"),
        _figure("in flight", str(stats["in_flight"])),
        _figure("errors", f"{stats['error_rate'] * 100:.1f}%"),
        _figure("p50", _ms(stats.get("latency_p50_ms"))),
        _figure("p95", _ms(stats.get("latency_p95_ms"))),
        _figure("requests", f"{stats['requests']:,}"),
    ], padding=(0, 3))
    providers = Table(title="providers", title_justify="left", expand=True, box=box.SIMPLE_HEAD,
                      show_edge=False, pad_edge=False)
    for header in ("provider", "health", "circuit", "last check"):
        providers.add_column(header)
    for provider in stats.get("providers", []):
        health, circuit = provider.get("health", "unknown"), provider.get("circuit", "unknown")
        name = cell(provider["name"]) + ("" if provider.get("enabled", True) else " (disabled)")
        providers.add_row(
            name,
            f"[{HEALTH_STYLE.get(health, '')}]{health}[/]",
            f"[{CIRCUIT_STYLE.get(circuit, '')}]{circuit}[/]",
            _checked(provider.get("last_checked"), provider.get("check_ms")),
        )
    recent = Table(title="last requests", title_justify="left", expand=True, box=box.SIMPLE_HEAD,
                   show_edge=False, pad_edge=False)
    # Figures keep their width and names give way by wrapping, never cut; see NEEDS_WIDTH.
    headers = ("time", "model", "provider", "status", "latency", "ttft", "tokens", "cost", "request")
    shown = [width >= NEEDS_WIDTH.get(header, 0) for header in headers]
    for header, show in zip(headers, shown, strict=True):
        if show:
            figure = header in ("latency", "ttft", "tokens", "cost")
            recent.add_column(header, justify="right" if figure else "left", overflow="fold",
                              no_wrap=figure or header in ("time", "status", "request"))
    for entry in stats.get("recent", [])[:10]:
        status = entry["status"]
        style = "green" if status < 400 else "red" if status >= 500 else "yellow"
        tokens = "-" if entry.get("tokens_in") is None else f"{entry['tokens_in']}→{entry['tokens_out']}"
        cells = [
            datetime.fromtimestamp(entry["ts"]).strftime("%H:%M:%S"),
            cell(entry["model"]),
            cell(entry.get("provider")),
            f"[{style}]{status}[/]" + (f" {cell(entry['error_class'])}" if entry.get("error_class") else ""),
            _ms(entry.get("latency_ms")),
            _ms(entry.get("ttft_ms")),
            tokens + (" ⇣" if entry.get("streamed") else ""),
            "-" if entry.get("cost") is None else money(entry["cost"]),
            cell(entry["request_id"]),
        ]
        recent.add_row(*(cell for cell, show in zip(cells, shown, strict=True) if show))
    title = f"llmp {stats.get('base_url', '')}  up {duration(stats.get('uptime_s'))}"
    window = f"last {stats.get('window_s', 60):.0f}s"
    return Panel(Group(summary, providers, recent), title=title, title_align="left", subtitle=window)


def _checked(when: float | None, ms: float | None) -> str:
    """When the last health check ran (local time), and how long it took."""
    if when is None:
        return "-"
    return datetime.fromtimestamp(when).strftime("%H:%M:%S") + (f" ({_ms(ms)})" if ms is not None else "")


def _figure(label: str, value: str) -> str:
    return f"[dim]{label}[/] [bold]{value}[/]"


def _ms(value: float | None) -> str:
    """Milliseconds: a tenth of one below 10 (a local model or the mock answers in under one)."""
    if value is None:
        return "-"
    return f"{value:.1f} ms" if value < 10 else f"{value:,.0f} ms"
