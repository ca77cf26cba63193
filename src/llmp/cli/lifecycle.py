"""`llmp start`, `llmp stop`, `llmp status` and `llmp reload`."""

from __future__ import annotations

import time
from typing import Any

import typer

from llmp import __version__
from llmp.cli.command_table import command_help
from llmp.cli.console import console, fail, print_json
from llmp.cli.tables import duration
from llmp.core.paths import resolve_paths

HOST = typer.Option(None, "--host", help="Address to bind (default 127.0.0.1).")
PORT = typer.Option(None, "--port", help="Port to listen on (default 8484; 0 = any free port).")
CONFIG = typer.Option(None, "--config", "-c", help="Config file (default: LLMP_CONFIG or the config dir).")


def start(
    foreground: bool = typer.Option(False, "--foreground", "-f", help="Run in this terminal."),
    host: str | None = HOST,
    port: int | None = PORT,
    config: str | None = CONFIG,
) -> None:
    if foreground:
        from llmp.cli.daemon_control import daemon_arguments, live_state

        paths = resolve_paths()
        args = daemon_arguments(host, port, config)
        running = live_state(paths)
        if running is not None:
            fail(f"llmp is already running at {running.base_url} (pid {running.pid})")
        from llmp.daemon.main import main as daemon_main

        raise typer.Exit(daemon_main([*args, "--foreground"]))
    from llmp.cli.background_start import start_in_background

    code = start_in_background(host, port, config)
    if code:
        raise typer.Exit(code)


def stop(
    timeout: float = typer.Option(
        10.0, "--timeout", "-t", min=0.0,
        help="Seconds to wait after asking, and after SIGTERM, before the next step."),
) -> None:
    from llmp.cli.daemon_control import stop as stop_daemon

    state = stop_daemon(resolve_paths(), timeout)
    if state is None:
        console().print("llmp is not running")
        return
    console().print(f"[green]✓[/] llmp stopped (pid {state.pid})")


def status(
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
    watch: bool = typer.Option(False, "--watch", "-w", help="A live dashboard (Ctrl-C to leave)."),
    interval: float = typer.Option(1.0, "--interval", min=0.1, help="Seconds between --watch updates."),
) -> None:
    if watch:
        from llmp.cli.watch import watch as watch_dashboard

        watch_dashboard(interval)
        return
    from llmp.cli.admin_client import DaemonUnreachable, admin_request
    from llmp.cli.daemon_control import live_state
    from llmp.core.paths import config_file_from_env

    paths = resolve_paths()
    state = live_state(paths)
    chosen = config_file_from_env(paths)
    info: dict[str, Any] = {
        "running": False, "pid": None, "host": None, "port": None,
        "version": __version__, "uptime_s": None, "requests": None, "in_flight": None,
        "providers": [], "config_file": None, "reloaded_at": None, "retiring_providers": None,
        "config_path": str(chosen), "config_exists": chosen.exists(),
    }
    if state is not None:
        info.update(running=True, pid=state.pid, host=state.host, port=state.port,
                    version=state.version, uptime_s=round(time.time() - state.started_at, 3),
                    base_url=state.base_url)
        try:
            info.update(admin_request(state, "GET", "/admin/status", timeout=3.0))
        except DaemonUnreachable as exc:
            info["error"] = str(exc)
    if json_output:
        print_json(info)
        return
    _print_status(info)


def reload(
    json_output: bool = typer.Option(False, "--json", help="Print the daemon's answer as JSON."),
) -> None:
    """Providers, aliases, defaults, rate limits, prices and the log level change
    at once; requests already running finish as they started. The `server:`
    section (address, port, auth, limits, allowed hosts, CORS) needs a restart.
    """
    from llmp.cli.admin_client import DaemonRefused, DaemonUnreachable, admin_request
    from llmp.cli.daemon_control import live_state

    state = live_state(resolve_paths())
    if state is None:
        fail("llmp is not running (start it with llmp start)")
    try:
        result = admin_request(state, "POST", "/admin/reload", timeout=60.0)
    except DaemonUnreachable as exc:
        message = exc.message if isinstance(exc, DaemonRefused) else str(exc)
        if json_output:
            print_json({"reloaded": False, "error": message})
            raise typer.Exit(1) from None
        fail(message)
    if json_output:
        print_json(result)
        return
    print_reloaded(result)


def print_reloaded(result: dict[str, Any]) -> None:
    """The daemon's account of a reload, literally (names in it come from the config file)."""
    from llmp.cli.tables import cell

    console().print(f"[green]✓[/] {cell(reload_summary(result))}", highlight=False, soft_wrap=True)


def reload_summary(result: dict[str, Any]) -> str:
    """One line: where the config came from, what changed, and what waits for a restart."""
    source = result.get("config_file") or "built-in defaults"
    providers = result.get("providers") or {}
    changes = [f"{what} {', '.join(names)}" for what in ("added", "removed", "changed")
               if (names := providers.get(what))]
    parts = ["providers " + "; ".join(changes)] if changes else []
    if result.get("aliases_changed"):
        parts.append("aliases changed")
    line = f"config reloaded from {source}: " + (", ".join(parts) or "no provider or alias changes")
    if result.get("needs_restart"):
        line += (f"; NOT applied until `llmp stop && llmp start`: "
                 f"{', '.join(result['needs_restart'])}")
    return line


def _print_status(info: dict[str, Any]) -> None:
    from llmp.cli.tables import Column, Styled, render

    out = console()
    if not info["running"]:
        out.print("llmp is [bold]not running[/] (start it with [bold]llmp start[/])")
        from llmp.cli.tables import cell

        out.print(f"config: {cell(_config_line(info))}", highlight=False, soft_wrap=True)
        return
    rows = [
        ["status", Styled("running", "green") if "error" not in info
         else Styled("not answering", "red")],
        ["address", info.get("base_url", "")],
        ["pid", info["pid"]],
        ["version", info["version"]],
        ["uptime", duration(info["uptime_s"])],
        ["requests", info.get("requests", "?")],
        ["in flight", info.get("in_flight", "?")],
        ["providers", ", ".join(info.get("providers") or []) or "-"],
        ["config", _config_line(info)],
    ]
    telemetry = _telemetry_line(info.get("telemetry"))
    if telemetry:
        rows.append(["telemetry", telemetry])
    if "error" in info:
        rows.append(["error", info["error"]])
    render(out, [Column("field"), Column("value", "text")], rows, header=False)


def _config_line(info: dict[str, Any]) -> str:
    """The file read (or that would be read), and whether it exists: never just "defaults"."""
    if info.get("config_file"):
        return str(info["config_file"])
    path = info["config_path"]
    if info["config_exists"]:
        return f"{path} (read at the next llmp start or llmp reload)" if info["running"] else path
    return f"{path} (not there: built-in defaults; write one with llmp config init)"


def _telemetry_line(telemetry: Any) -> str:
    """`log failing (No space left on device), 1,234 dropped`: only what went wrong."""
    if not isinstance(telemetry, dict):
        return ""
    failing = telemetry.get("failing") or {}
    parts = []
    for sink, count in (telemetry.get("dropped") or {}).items():
        if not count and sink not in failing:
            continue
        state = f"failing ({failing[sink]})" if sink in failing else "writing again"
        parts.append(f"{sink} {state}, {count:,} dropped")
    return "; ".join(parts)


def register(app: typer.Typer) -> None:
    app.command(help=command_help("start"))(start)
    app.command(help=command_help("stop"))(stop)
    app.command(help=command_help("status"))(status)
    app.command(help=command_help("reload", reload.__doc__))(reload)
