"""Shared terminal output helpers (rich), so every command looks and fails alike."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn


def console() -> Any:
    from rich.console import Console

    return Console()


def error_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


def print_error(message: str) -> None:
    """`error: message` on stderr, the message printed literally (it may quote a daemon, an
    upstream or a config file: no markup, no secret, control characters as escapes)."""
    from rich.markup import escape

    from llmp.cli.visible import visible_lines
    from llmp.core.redact import redact

    error_console().print(f"[bold red]error:[/] {escape(visible_lines(redact(message)))}",
                          highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """One clear line on stderr and a non-zero exit; never a traceback."""
    import typer  # here: `background_start` shows errors without loading Typer

    print_error(message)
    raise typer.Exit(code)
