"""`llmp providers`: what is configured, how healthy it is, and taking one out of rotation.

Listing works without a daemon (it reads the config and looks the keys up,
printing only where each key comes from and whether it is there). Health and
enable/disable ask the running daemon over its admin API.
"""

from __future__ import annotations

import os
import time
from typing import Any

import typer

from llmp.cli.command_table import command_help
from llmp.cli.completion import complete_provider
from llmp.cli.console import console, fail, print_json
from llmp.core.paths import resolve_paths

providers_app = typer.Typer(
    help=command_help("providers"),
    no_args_is_help=False, invoke_without_command=True,
)
JSON = typer.Option(False, "--json", help="Print JSON for scripts.")
WIDE = typer.Option(False, "--wide", help="Show every column and whole values, however wide.")
STATE_STYLE = {"healthy": "green", "degraded": "yellow", "down": "red", "unauthorized": "red",
               "unknown": "dim"}


@providers_app.callback()
def list_providers(ctx: typer.Context, json_output: bool = JSON, wide: bool = WIDE) -> None:
    """List providers: type, base URL, models, and where the key comes from (never the key)."""
    if ctx.invoked_subcommand is not None:
        return
    listing = _listing()
    if json_output:
        print_json({"providers": listing})
        return
    from llmp.cli.tables import Column, Styled, render

    columns = [Column("name"), Column("type", optional=2), Column("base url", kind="url"),
               Column("models", kind="text", optional=1), Column("key"), Column("enabled")]
    rows = [[p["name"], p["type"], p["base_url"], ", ".join(p["models"]),
             Styled(key_state(p), "red" if key_state(p) == "missing" else ""),
             "yes" if p["enabled"] else Styled("no", "red")] for p in listing]
    render(console(), columns, rows, wide=wide)


def key_state(entry: dict[str, Any]) -> str:
    """The key-state phrase of a listing entry (a daemon from before `key_state` sends only the source)."""
    from llmp.core.keys import STATE_WORDS

    return str(entry.get("key_state") or STATE_WORDS.get(entry["key_source"], entry["key_source"]))


def _listing() -> list[dict[str, Any]]:
    from llmp.cli.admin_client import DaemonUnreachable, admin_request

    state = _live()
    if state is not None:
        try:
            return list(admin_request(state, "GET", "/admin/providers")["providers"])
        except DaemonUnreachable:
            pass
    return _from_config()


def _from_config() -> list[dict[str, Any]]:
    from llmp.core.config_loader import ConfigError, load_config
    from llmp.core.keys import resolve_key
    from llmp.core.paths import config_file_from_env

    paths = resolve_paths()
    try:
        loaded = load_config(config_file_from_env(paths),
                             explicit=bool(os.environ.get("LLMP_CONFIG")))
    except ConfigError as exc:
        fail(str(exc))
    listing = []
    for name, spec in loaded.config.providers.items():
        key = resolve_key(name, spec)
        listing.append({"name": name, "type": spec.type, "base_url": spec.base_url,
                        "models": spec.models, "enabled": spec.enabled,
                        "key_source": key.source, "key_state": key.state,
                        "key_present": key.present})
    return listing


@providers_app.command()
def health(
    check: bool = typer.Option(False, "--check", help="Probe every provider now, open circuits too."),
    watch: bool = typer.Option(False, "--watch", help="Keep the table live (Ctrl-C to stop)."),
    every: float = typer.Option(2.0, "--every", min=0.2, help="Seconds between refreshes with --watch."),
    json_output: bool = JSON,
    wide: bool = WIDE,
) -> None:
    """Per provider and deployment: state, circuit, latency, errors, last check."""
    state = _require_daemon()
    path = "/admin/providers/health" + ("?check=1" if check else "")
    report = _admin(state, "GET", path, timeout=60.0 if check else 5.0)
    if json_output:
        print_json(report)
        return
    from llmp.cli.tables import render

    if not watch:
        render(console(), *health_rows(report), wide=wide)
        return
    from rich.live import Live

    from llmp.cli.tables import build

    out = console()

    def table(answer: dict[str, Any]) -> Any:
        return build(out.width, *health_rows(answer), wide=wide)[0]

    try:
        with Live(table(report), console=out, auto_refresh=False) as live:
            while True:
                time.sleep(every)
                live.update(table(_admin(state, "GET", "/admin/providers/health")), refresh=True)
    except KeyboardInterrupt:
        return


def health_rows(report: dict[str, Any]) -> tuple[list[Any], list[list[Any]]]:
    """The health table's columns and rows: a provider, then each of its deployments indented."""
    from llmp.cli.tables import Column, Styled

    columns = [Column("provider"), Column("state"), Column("circuit"), Column("p50", "number"),
               Column("p95", "number", optional=2), Column("ttft", "number", optional=4),
               Column("errors", "number"), Column("reqs", "number", optional=1),
               Column("checked", "number", optional=3), Column("last error", "text")]
    now = time.time()
    rows: list[list[Any]] = []
    for p in report["providers"]:
        row = _row(p, now)
        if not p["enabled"]:
            row[0] = Styled("disabled", "dim")
        rows.append([p["name"], *row])
        for d in p["deployments"]:
            rows.append([Styled(f"  {d['model']}", "dim"), *_row(d, now)])
    return columns, rows


def _row(entry: dict[str, Any], now: float) -> list[Any]:
    from llmp.cli.tables import Styled, count

    circuit = entry["circuit"]
    shown = circuit["state"].replace("_", "-")
    if "next_probe_in" in circuit:
        shown += f" {circuit['next_probe_in']:.0f}s"
    rate = entry["error_rate_5m"]
    checked = entry["last_checked"]
    return [
        Styled(entry["state"], STATE_STYLE.get(entry["state"], "")),
        shown,
        _ms(entry["latency_p50"]),
        _ms(entry["latency_p95"]),
        _ms(entry["ttft_p50"]),
        "-" if rate is None else f"{rate:.0%}",
        count(entry["requests"]),
        "-" if checked is None else f"{max(0, now - checked):.0f}s ago",
        entry["last_error"],
    ]


def _ms(seconds: float | None) -> str:
    from llmp.cli.tables import duration_ms

    return duration_ms(None if seconds is None else seconds * 1000)


@providers_app.command()
def disable(name: str = typer.Argument(..., help="Provider name.",
                                       autocompletion=complete_provider)) -> None:
    """Take a provider out of rotation until `enable` (or a restart)."""
    _switch(name, "disable")
    console().print(f"provider [bold]{name}[/] disabled: no requests go to it")


@providers_app.command()
def enable(name: str = typer.Argument(..., help="Provider name.",
                                      autocompletion=complete_provider)) -> None:
    """Put a provider disabled with `disable` back into rotation."""
    _switch(name, "enable")
    console().print(f"provider [bold]{name}[/] enabled")


def _switch(name: str, action: str) -> None:
    from urllib.parse import quote

    _admin(_require_daemon(), "POST", f"/admin/providers/{quote(name, safe='')}/{action}")


def _live() -> Any:
    from llmp.cli.daemon_control import live_state

    return live_state(resolve_paths())


def _require_daemon() -> Any:
    state = _live()
    if state is None:
        fail("llmp is not running (start it with llmp start)")
    return state


def _admin(state: Any, method: str, path: str, *, timeout: float = 5.0) -> Any:
    from llmp.cli.admin_client import DaemonUnreachable, admin_request

    try:
        return admin_request(state, method, path, timeout=timeout)
    except DaemonUnreachable as exc:
        fail(str(exc))


def register(app: typer.Typer) -> None:
    app.add_typer(providers_app, name="providers")
