"""`llmp chat`: the terminal as a client of the daemon.

One job per module: `command` (the Typer command, one-shot or interactive),
`client` (httpx to the daemon's OpenAI endpoint), `conversation` (messages,
settings, save/load), `session` (send, show, the loop), `render` (markdown or
plain output and the footer), `slash` (slash commands), `line_input` (editing,
history, multi-line), `models` (the default model).
"""

from llmp.cli.chat.command import register

__all__ = ["register"]
