"""The `llmp` group's part of `closed_pipe`: a broken pipe while parsing or running a command."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from llmp.cli.closed_pipe import quiet_on_closed_pipe


class PipeSafeGroup(TyperGroup):
    """The `llmp` command group: a closed output pipe ends it with `quiet_exit`."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with quiet_on_closed_pipe():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: typer.Context) -> Any:
        with quiet_on_closed_pipe():
            return super().invoke(ctx)
