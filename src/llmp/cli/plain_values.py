"""Values that need no converting are taken as they are, without loading pydantic.

Typer (from 0.25) converts every parameter's value through a pydantic type
adapter, built the first time it is needed, unless the value is already a
bool for a bool flag. Optional flags nobody gave arrive as None (Typer's own
`--install-completion` on every command among them) and defaults arrive
already of their declared type, so pydantic (some 60 ms) loaded on every run,
for nothing: `llmp status` converts no value at all. A value from the command
line or the environment is text and still goes through Typer's conversion,
its checks and its error messages, except a plain number for an int without
limits (`llmp start --port 0`), which converts the same with `int()`.
"""

from __future__ import annotations

from typing import Any

from llmp.cli.param_walk import for_every_parameter


class _ConvertOnlyWhenNeeded:
    """Stands in for Typer's converter of one parameter, building that only when asked to convert."""

    def __init__(self, typer_converter: Any) -> None:
        self._typer_converter = typer_converter

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if not (param.multiple or param.nargs == -1):  # one value, as Typer counts them
            annotation = param.type_descriptor.annotation
            if value is None or type(value) is annotation:
                return value
            if annotation is int and _plain_digits(value) and _unconstrained(param):
                return int(value)
        return self._typer_converter().coerce(value, param=param, ctx=ctx)


def _plain_digits(value: Any) -> bool:
    """Text Typer's conversion would turn into the same int: ASCII digits only (no sign, spaces
    or underscores), and short enough for any limit on digits."""
    return type(value) is str and 0 < len(value) <= 18 and value.isascii() and value.isdigit()


def _unconstrained(param: Any) -> bool:
    """No `min`, `max` or custom parser for Typer to apply."""
    info = param.type_descriptor.parameter_info
    return info.min is None and info.max is None and info.parser is None


def convert_only_when_needed(command: Any) -> Any:
    """Every parameter of `command` and of the commands under it, `--help` included."""
    if getattr(command, "converts_only_when_needed", False):
        return command
    command.converts_only_when_needed = True
    return for_every_parameter(command, _defer)


def _defer(param: Any) -> None:
    if hasattr(param, "type_descriptor") and "get_runtime_param" not in vars(param):
        converter = _ConvertOnlyWhenNeeded(param.get_runtime_param)
        param.get_runtime_param = lambda: converter
