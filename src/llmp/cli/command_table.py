"""Every `llmp` command: the module that registers it, and what it does in one line.

`llmp --help` lists the commands with these summaries, importing none of their
modules (that was a fifth of what it cost); each module passes its command's
summary to Typer as the first paragraph of the command's own help, so the text
exists once. A module is imported when its command runs or its own help is asked for.
"""

from __future__ import annotations

import inspect
from typing import NamedTuple


class Command(NamedTuple):
    module: str
    summary: str


# In `llmp --help` order.
COMMANDS = {
    "start": Command("llmp.cli.lifecycle", "Start the daemon in the background and wait until it answers."),
    "stop": Command("llmp.cli.lifecycle", "Stop the daemon: ask it politely, then signal, then kill."),
    "status": Command("llmp.cli.lifecycle", "Whether the daemon runs, where, and what it has done."),
    "reload": Command("llmp.cli.lifecycle",
                      "Re-read the config file and apply it to the running daemon, without a restart."),
    "logs": Command("llmp.cli.logs", "Show the daemon's log."),
    "chat": Command("llmp.cli.chat", "Chat with a model through the daemon (starting it if needed)."),
    "test": Command("llmp.cli.provider_check",
                    "Check each provider: key, reachable, authenticated, completion, stream, embeddings."),
    "usage": Command("llmp.cli.usage", "Requests, tokens and cost from the usage ledger."),
    "ui": Command("llmp.cli.ui", "Open the live web dashboard (health, circuits, requests, usage, config)."),
    "providers": Command("llmp.cli.providers",
                         "Configured providers, their health, and taking one out of rotation."),
    "keys": Command("llmp.cli.keys",
                    "Store, list, remove and test API keys (OS keyring; a 0600 file only on request)."),
    "config": Command("llmp.cli.config_cmd", "Find, write, show, check and edit the config file."),
    "cache": Command("llmp.cli.cache", "The response cache: what it holds and what it saved."),
}


def command_help(name: str, more: str | None = None) -> str:
    """The help of command `name`: its summary, then `more` (a docstring, say) as further paragraphs."""
    summary = COMMANDS[name].summary
    return f"{summary}\n\n{inspect.cleandoc(more).strip()}" if more else summary
