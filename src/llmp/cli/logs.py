"""`llmp logs`: the daemon's log, readable, optionally followed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import typer

from llmp.cli.console import fail
from llmp.core.paths import resolve_paths


def format_line(line: str) -> str:
    """A JSON log record as one readable line; anything else as it is."""
    try:
        record = json.loads(line)
    except ValueError:
        return line.rstrip("\n")
    if not isinstance(record, dict):
        return line.rstrip("\n")
    stamp = str(record.get("ts", ""))[11:19]
    level = str(record.get("level", "")).upper()
    text = f"{stamp} {level:<7} {record.get('msg', '')}"
    if record.get("request_id"):
        text += f"  [{record['request_id']}]"
    if record.get("exc"):
        text += "\n" + str(record["exc"])
    return text


LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


def line_filter(level: str | None, request_id: str | None) -> Callable[[str], bool]:
    """Which lines to show: at least `level`, and only those of one request if asked."""
    floor = LEVELS[level] if level else 0

    def keep(line: str) -> bool:
        if not floor and not request_id:
            return True
        try:
            record = json.loads(line)
        except ValueError:
            return not request_id  # a line that is not JSON belongs to no request
        if not isinstance(record, dict):
            return not request_id
        if LEVELS.get(str(record.get("level", "")).lower(), 0) < floor:
            return False
        return not request_id or record.get("request_id") == request_id

    return keep


def logs(
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
    lines: int = typer.Option(50, "--lines", "-n", help="How many recent lines to show."),
    raw: bool = typer.Option(False, "--json", help="Print the JSON records as they are."),
    level: str | None = typer.Option(
        None, "--level", "-l", help="Only this level and above: debug, info, warning, error."),
    request: str | None = typer.Option(None, "--request", "-r", help="Only the lines of this request id."),
) -> None:
    """Show the daemon's log."""
    if level is not None and level.lower() not in LEVELS:
        fail(f"unknown level {level!r}: use debug, info, warning or error")
    path = resolve_paths().log_file
    if not path.exists():
        fail(f"no log yet at {path} (has the daemon run?)")
    render = (lambda line: line.rstrip("\n")) if raw else format_line
    keep = line_filter(level.lower() if level else None, request)
    for line in _tail(path, lines, keep):
        typer.echo(render(line))
    if follow:
        _follow(path, render, keep)


def _tail(path: Path, count: int, keep: Callable[[str], bool]) -> list[str]:
    """The last `count` lines that pass the filter (a request's lines may lie far back)."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        return [line for line in handle if keep(line)][-count:] if count > 0 else []


def _follow(path: Path, render: Callable[[str], str], keep: Callable[[str], bool]) -> None:
    with path.open(encoding="utf-8", errors="replace") as handle:
        handle.seek(0, 2)
        try:
            while True:
                line = handle.readline()
                if line:
                    if keep(line):
                        typer.echo(render(line))
                    continue
                if path.stat().st_size < handle.tell():  # rotated
                    handle = path.open(encoding="utf-8", errors="replace")
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass


def register(app: typer.Typer) -> None:
    app.command()(logs)
