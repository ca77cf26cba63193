"""`llmp status --watch`: a live dashboard of the running daemon.

It polls `/admin/stats` and redraws in place with rich's `Live` (one frame per
poll, no auto refresh in between, so nothing flickers). A daemon that stops
answering is shown as such and polled again; Ctrl-C leaves cleanly.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from llmp.cli.lifecycle import _duration
from llmp.core.paths import resolve_paths

HEALTH_STYLE = {"healthy": "green", "failing": "red", "unknown": "dim"}
CIRCUIT_STYLE = {"closed": "green", "half_open": "yellow", "open": "red", "unknown": "dim"}


def watch(interval: float) -> None:
    from rich.live import Live

    with Live(render(None, "connecting…"), auto_refresh=False, transient=False) as live:
        try:
            while True:
                stats, problem = poll()
                live.update(render(stats, problem), refresh=True)
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


def render(stats: dict[str, Any] | None, problem: str | None) -> Any:
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    if stats is None:
        return Panel(Text(problem or "", style="red"), title="llmp", title_align="left")
    summary = Table.grid(padding=(0, 3))
    for _ in range(6):
        summary.add_column()
    summary.add_row(
        _figure("req/s", f"{stats['rps']:.2f}"),
        _figure("in flight", str(stats["in_flight"])),
        _figure("errors", f"{stats['error_rate'] * 100:.1f}%"),
        _figure("p50", _ms(stats.get("latency_p50_ms"))),
        _figure("p95", _ms(stats.get("latency_p95_ms"))),
        _figure("requests", f"{stats['requests']:,}"),
    )
    providers = Table(title="providers", title_justify="left", expand=True)
    for header in ("provider", "health", "circuit", "last check"):
        providers.add_column(header)
    for provider in stats.get("providers", []):
        health, circuit = provider.get("health", "unknown"), provider.get("circuit", "unknown")
        name = provider["name"] + ("" if provider.get("enabled", True) else " (disabled)")
        providers.add_row(
            name,
            f"[{HEALTH_STYLE.get(health, '')}]{health}[/]",
            f"[{CIRCUIT_STYLE.get(circuit, '')}]{circuit}[/]",
            _ms(provider.get("check_ms")),
        )
    recent = Table(title="last requests", title_justify="left", expand=True)
    for header in ("time", "request", "model", "provider", "status", "latency", "ttft", "tokens", "cost"):
        recent.add_column(header, no_wrap=True)
    for entry in stats.get("recent", [])[:10]:
        status = entry["status"]
        style = "green" if status < 400 else "red" if status >= 500 else "yellow"
        tokens = "-" if entry.get("tokens_in") is None else f"{entry['tokens_in']}→{entry['tokens_out']}"
        recent.add_row(
            datetime.fromtimestamp(entry["ts"]).strftime("%H:%M:%S"),
            entry["request_id"],
            entry["model"],
            entry.get("provider") or "-",
            f"[{style}]{status}[/]" + (f" {entry['error_class']}" if entry.get("error_class") else ""),
            _ms(entry.get("latency_ms")),
            _ms(entry.get("ttft_ms")),
            tokens + (" ⇣" if entry.get("streamed") else ""),
            "-" if entry.get("cost") is None else f"${entry['cost']:.6f}",
        )
    title = f"llmp {stats.get('base_url', '')}  up {_duration(stats.get('uptime_s'))}"
    window = f"last {stats.get('window_s', 60):.0f}s"
    return Panel(Group(summary, providers, recent), title=title, title_align="left", subtitle=window)


def _figure(label: str, value: str) -> str:
    return f"[dim]{label}[/] [bold]{value}[/]"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"
