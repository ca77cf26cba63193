"""The `llmp` command: the Typer application and its sub-command groups."""

from __future__ import annotations

import typer

from llmp import __version__
from llmp.cli import lifecycle, logs, usage

app = typer.Typer(
    name="llmp",
    help="A local LLM gateway: one OpenAI-compatible endpoint on localhost for every provider.",
    no_args_is_help=True,
    add_completion=False,
    # A traceback with locals would print API keys held in variables.
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"llmp {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """llmp controls a small background daemon on localhost."""


lifecycle.register(app)
logs.register(app)
usage.register(app)


def run() -> None:
    app()
