"""Option placeholders in `--help` as command-line programs usually print them.

Typer (from 0.25, with its own copy of click) shows a value's Python type
(`<bool>`, `<str>`, `<list[str]>`) and a required argument's name in braces;
people expect `TEXT`, `INTEGER`, `FLOAT`, the choices of an enumeration, an
argument's name in capitals, and nothing at all after a flag. This walks the
built command tree once, before it runs, and sets each parameter's
placeholder, leaving any metavar a command chose itself. With an older Typer
(plain click) the same walk sets the same names through click's own metavar.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup

from llmp.cli.param_walk import for_every_parameter

_TYPE_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "Path": "PATH", "bool": ""}


class PlaceholderGroup(TyperGroup):
    """The root `llmp` group: sets the placeholders of the whole tree before it parses anything,
    so `--help` at any depth shows them, and Typer's own running (its exception handling
    included) stays as it is."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None,
                     **extra: Any) -> Any:
        if parent is None:
            conventional_placeholders(self)
        return super().make_context(info_name, args, parent=parent, **extra)


def conventional_placeholders(command: Any) -> Any:
    return for_every_parameter(command, _unless_chosen)


def _unless_chosen(param: Any) -> None:
    if param.metavar is None:
        _conventional(param)


def _conventional(param: Any) -> None:
    if param.param_type_name != "argument":
        param.metavar = _value_name(param)
        return
    param.metavar = param.name.upper()
    if hasattr(param, "_usage_display_name"):  # Typer's own argument class
        label = _value_name(param)
        many = "..." if param.nargs != 1 else ""
        shown = param.metavar if param.required else f"[{param.metavar}]"
        param._usage_display_name = lambda: shown + many
        param.display_type_rich = lambda ctx: label


def _value_name(param: Any) -> str:
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    descriptor = getattr(param, "type_descriptor", None)  # Typer >= 0.25's own parameter types
    if descriptor is not None:
        if descriptor.choices:
            return "[" + "|".join(str(getattr(c, "value", c)) for c in descriptor.choices) + "]"
        annotation = descriptor.annotation
        if descriptor.is_list:
            annotation = getattr(annotation, "__args__", (str,))[0]
        label = getattr(annotation, "__name__", str(annotation))
        return _TYPE_NAMES.get(label, label.upper())
    choices = getattr(param.type, "choices", None)  # click's types (older Typer)
    if choices:
        return "[" + "|".join(str(c) for c in choices) + "]"
    return str(param.type.name).upper()
