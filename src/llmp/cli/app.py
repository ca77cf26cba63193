"""The `llmp` command: the Typer application and its sub-command groups."""

from __future__ import annotations

import logging

import typer

from llmp.cli import (
    cache,
    chat,
    config_cmd,
    keys,
    lifecycle,
    logs,
    provider_check,
    providers,
    ui,
    usage,
)
from llmp.cli.closed_pipe import PipeSafeGroup
from llmp.cli.help_format import PlaceholderGroup
from llmp.core.redact import RedactingFilter
from llmp.entry import version_line


class RootGroup(PipeSafeGroup, PlaceholderGroup):
    """The `llmp` group: a closed output pipe ends it quietly with status 0 (`llmp ... | head -1`),
    and `--help` shows TEXT / INTEGER / nothing after a flag."""


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
    redacting = logging.StreamHandler()
    redacting.addFilter(RedactingFilter())
    logging.basicConfig(level=logging.WARNING, handlers=[redacting])


lifecycle.register(app)
logs.register(app)
providers.register(app)
keys.register(app)
chat.register(app)
provider_check.register(app)
usage.register(app)
config_cmd.register(app)
ui.register(app)
cache.register(app)


def run() -> None:
    app(prog_name="llmp")
