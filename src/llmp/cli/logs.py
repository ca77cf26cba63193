"""`llmp logs`: the daemon's log, readable, optionally followed."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import typer

from llmp.cli.command_table import command_help
from llmp.cli.console import fail
from llmp.cli.visible import visible, visible_json, visible_lines
from llmp.core.paths import resolve_paths


def format_line(line: str) -> str:
    """A JSON log record as one readable line (its traceback below it); anything else as it is.

    A record quotes what clients and upstreams sent (paths, model names, errors): its control
    characters are shown as escapes, so none acts on the terminal or forges a line.
    """
    try:
        record = json.loads(line)
    except ValueError:
        return visible(line.rstrip("\r\n"))
    if not isinstance(record, dict):
        return visible(line.rstrip("\r\n"))
    stamp = str(record.get("ts", ""))[11:19]
    level = str(record.get("level", "")).upper()
    text = f"{stamp} {level:<7} {record.get('msg', '')}"
    if record.get("request_id"):
        text += f"  [{record['request_id']}]"
    text = visible(text)
    if record.get("exc"):
        text += "\n" + visible_lines(str(record["exc"]))
    return text


def raw_line(line: str) -> str:
    """A line as written, for `--json`: a JSON record stays the same JSON, with JSON escapes for
    the control characters it may hold raw (DEL and C1 need none in JSON, but act on terminals)."""
    return visible_json(line.rstrip("\r\n"))


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
    if level is not None and level.lower() not in LEVELS:
        fail(f"unknown level {level!r}: use debug, info, warning or error")
    path = resolve_paths().log_file
    if not path.exists():
        fail(f"no log yet at {path} (has the daemon run?)")
    render = raw_line if raw else format_line
    keep = line_filter(level.lower() if level else None, request)
    shown, end = _tail(path, lines, keep)
    if request and not shown and not follow:  # a mistyped id must not look like a quiet request
        fail(f"no log line for request {request!r} (in {path} and its rotated copies)")
    for line in shown:
        typer.echo(render(line))
    if follow:
        _follow(path, end, render, keep)


def _tail(path: Path, count: int, keep: Callable[[str], bool]) -> tuple[list[str], int]:
    """The last `count` lines that pass the filter, reaching back into rotated files when the
    current one has too few (a request's lines may lie far back); and where the current file
    ended, for `--follow` to go on from."""
    found: list[str] = []
    end = 0
    for file in _newest_first(path):
        if file is not path and len(found) >= count:
            break
        with file.open("rb") as handle:
            read = handle.readlines()
        if file is path:
            if read and not read[-1].endswith(b"\n"):  # being written: --follow prints it whole
                read.pop()
            end = sum(map(len, read))
        found = [text for text in map(_decode, read) if keep(text)] + found
    return (found[-count:] if count > 0 else []), end


def _decode(line: bytes) -> str:
    return line.decode("utf-8", "replace")


def _newest_first(path: Path) -> list[Path]:
    """`llmp.log`, then its rotated copies `llmp.log.1`, `llmp.log.2`, ... (older as the number grows)."""
    rotated = [p for p in path.parent.glob(path.name + ".*") if p.suffix[1:].isdigit()]
    return [path, *sorted(rotated, key=lambda p: int(p.suffix[1:]))]


def _follow(path: Path, offset: int, render: Callable[[str], str], keep: Callable[[str], bool]) -> None:
    """Print lines as they are appended after `offset`, across rotations, until Ctrl-C.

    A line is printed once its newline is there: the daemon's writer may have
    flushed only part of it.
    """
    handle = path.open("rb")
    handle.seek(offset)
    pending = b""
    try:
        while True:
            pending += handle.readline()
            if pending.endswith(b"\n"):
                text, pending = _decode(pending), b""
                if keep(text):
                    typer.echo(render(text))
                continue
            if _rotated(path, handle):  # the old file is read to its end: go on with the new one
                handle.close()
                handle = path.open("rb")
                continue
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        handle.close()


def _rotated(path: Path, handle: IO[bytes]) -> bool:
    try:
        return path.stat().st_ino != os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:  # between the rename and the new file
        return False


def register(app: typer.Typer) -> None:
    app.command(help=command_help("logs"))(logs)
