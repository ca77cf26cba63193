"""The `llmp` group's part of `closed_pipe`: a broken pipe while parsing or running a command."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from llmp.cli.closed_pipe import closed_pipe_or_raise


class PipeSafeGroup(TyperGroup):
    """The `llmp` command group: a closed output pipe ends it with `quiet_exit`."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except (BrokenPipeError, SystemExit) as exc:
            closed_pipe_or_raise(exc)

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (BrokenPipeError, SystemExit) as exc:
            closed_pipe_or_raise(exc)
