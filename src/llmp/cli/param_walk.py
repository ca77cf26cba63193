"""One walk over a command tree's parameters, for the changes the CLI makes to Typer's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def for_every_parameter(command: Any, change: Callable[[Any], None]) -> Any:
    """`change` each parameter of `command` and of the commands under it, and each `--help`
    option, which click makes per context rather than keeping it in `params`."""
    for param in getattr(command, "params", []):
        change(param)
    original = command.get_help_option

    def help_option(ctx: Any) -> Any:
        option = original(ctx)
        if option is not None:
            change(option)
        return option

    command.get_help_option = help_option
    for sub in (getattr(command, "commands", None) or {}).values():
        for_every_parameter(sub, change)
    return command
