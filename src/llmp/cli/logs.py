"""`llmp logs`: the daemon's log, readable, optionally followed."""

from __future__ import annotations

import json
import time
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


def logs(
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
    lines: int = typer.Option(50, "--lines", "-n", help="How many recent lines to show."),
    raw: bool = typer.Option(False, "--json", help="Print the JSON records as they are."),
) -> None:
    """Show the daemon's log."""
    path = resolve_paths().log_file
    if not path.exists():
        fail(f"no log yet at {path} (has the daemon run?)")
    render = (lambda line: line.rstrip("\n")) if raw else format_line
    for line in _tail(path, lines):
        typer.echo(render(line))
    if follow:
        _follow(path, render)


def _tail(path: Path, count: int) -> list[str]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        return handle.readlines()[-count:] if count > 0 else []


def _follow(path: Path, render: object) -> None:
    with path.open(encoding="utf-8", errors="replace") as handle:
        handle.seek(0, 2)
        try:
            while True:
                line = handle.readline()
                if line:
                    typer.echo(render(line))  # type: ignore[operator]
                    continue
                if path.stat().st_size < handle.tell():  # rotated
                    handle = path.open(encoding="utf-8", errors="replace")
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass


def register(app: typer.Typer) -> None:
    app.command()(logs)
