"""The `llmp` command: the Typer application and its sub-command groups.

Each command's module is imported only when that command runs (or its own
`--help` is asked for): `llmp status` is polled by scripts and prompts, and
importing every command's module up front was a third of what it cost. `llmp
--help` lists the commands from the summaries in `command_table`.
"""

from __future__ import annotations

import functools
from typing import Any

import typer
import typer.main
from typer.core import TyperCommand

from llmp.cli import lean_rich_utils
from llmp.cli.command_table import COMMANDS
from llmp.cli.help_format import PlaceholderGroup, conventional_placeholders
from llmp.cli.pipe_safe_group import PipeSafeGroup
from llmp.cli.plain_values import convert_only_when_needed
from llmp.core.own_program import version_line

lean_rich_utils.install()  # before Typer's first --help or usage error loads its rich_utils


@functools.cache
def commands_of(module_name: str) -> dict[str, Any]:
    """The click commands one module registers, built once: a module's `register` may
    add to its own Typer, so calling it twice would add its commands twice."""
    holder = typer.Typer()
    # `__import__`, not `importlib.import_module`: only the former shows in `python -X importtime`.
    __import__(module_name, fromlist=["register"]).register(holder)
    commands = typer.main.get_group(holder).commands
    return {name: convert_only_when_needed(conventional_placeholders(command))
            for name, command in commands.items()}


class RootGroup(PipeSafeGroup, PlaceholderGroup):
    """The `llmp` group: a closed output pipe ends it quietly with status 0 (`llmp ... | head -1`),
    `--help` shows TEXT / INTEGER / nothing after a flag, and a command's module loads
    only when that command is asked for."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None,
                     **extra: Any) -> Any:
        convert_only_when_needed(self)
        return super().make_context(info_name, args, parent=parent, **extra)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.commands.update(commands_of(COMMANDS[cmd_name].module))
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in COMMANDS:  # a typo: Typer suggests from every command
            for module_name in dict.fromkeys(command.module for command in COMMANDS.values()):
                self.commands.update(commands_of(module_name))
        return super().resolve_command(ctx, args)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """The Commands panel needs a name and a summary per command: commands not loaded yet
        stand in as just that, so `llmp --help` imports none of their modules."""
        loaded = self.commands
        self.commands = {name: TyperCommand(name, help=command.summary)
                         for name, command in COMMANDS.items()} | loaded
        try:
            super().format_help(ctx, formatter)
        finally:
            self.commands = loaded


app = typer.Typer(
    name="llmp",
    cls=RootGroup,
    help="A local LLM gateway: one OpenAI-compatible endpoint on localhost for every provider.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    # A traceback with locals would print API keys held in variables.
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """llmp controls a small background daemon on localhost."""
    # Warnings the CLI logs (e.g. from an adapter `llmp keys test` calls) go through the redactor.
    # Imported here, as a command runs: `--help` needs neither (logging alone is some 10 ms).
    import logging

    from llmp.core.redact import RedactingFilter

    redacting = logging.StreamHandler()
    redacting.addFilter(RedactingFilter())
    logging.basicConfig(level=logging.WARNING, handlers=[redacting])


def run() -> None:
    app(prog_name="llmp")
