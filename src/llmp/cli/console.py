"""Shared terminal output helpers (rich), so every command looks and fails alike."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer


def console() -> Any:
    from rich.console import Console

    return Console()


def error_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


def fail(message: str, code: int = 1) -> NoReturn:
    """One clear line on stderr and a non-zero exit; never a traceback."""
    from llmp.core.redact import redact

    error_console().print(f"[bold red]error:[/] {redact(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)
