"""The chat's slash commands: one table, so `/help`, completion and dispatch never disagree."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from llmp.cli.chat.client import ChatClient, ChatError
from llmp.cli.chat.conversation import Conversation


class ChatSession(Protocol):
    """What a command may use of the session running it (`session.ChatSession` is one)."""

    client: ChatClient
    conversation: Conversation

    def note(self, text: str) -> None: ...

    def error(self, text: str) -> None: ...

    def send(self, prompt: str) -> object: ...


@dataclass(frozen=True)
class Slash:
    name: str
    argument: str
    help: str
    #: Runs the command; returns False when the session should end.
    run: Callable[[ChatSession, str], bool]


def _model(session: ChatSession, name: str) -> bool:
    if not name:
        session.note(f"model: {session.conversation.model}")
        return True
    session.client.check_model(name)
    session.conversation.model = name
    session.note(f"model: {name}")
    return True


def _models(session: ChatSession, _: str) -> bool:
    current = session.conversation.model
    for name in session.client.models():
        session.note(("→ " if name == current else "  ") + name)
    return True


def _system(session: ChatSession, text: str) -> bool:
    conversation = session.conversation
    if text == "-":
        conversation.system = None
        session.note("system prompt removed")
    elif text:
        conversation.system = text
        session.note("system prompt set")
    else:
        session.note(f"system prompt: {conversation.system}" if conversation.system
                     else "no system prompt")
    return True


def _clear(session: ChatSession, _: str) -> bool:
    session.conversation.clear()
    session.note("conversation cleared")
    return True


def _retry(session: ChatSession, _: str) -> bool:
    prompt = session.conversation.retry_prompt()
    if prompt is None:
        session.note("nothing to retry")
    else:
        session.send(prompt)
    return True


def _path(argument: str) -> Path:
    if not argument:
        raise ChatError("name a file, e.g. /save chat.json")
    return Path(argument).expanduser()


def _save(session: ChatSession, argument: str) -> bool:
    path = _path(argument)
    try:
        session.conversation.save(path)
    except OSError as exc:
        raise ChatError(f"cannot write {path}: {exc.strerror}") from None
    session.note(f"saved {len(session.conversation.messages)} messages to {path}")
    return True


def _load(session: ChatSession, argument: str) -> bool:
    conversation = session.conversation
    conversation.load(_path(argument))
    session.note(f"loaded {len(conversation.messages)} messages (model {conversation.model})")
    return True


def _usage(session: ChatSession, _: str) -> bool:
    totals = session.conversation.totals
    line = (f"{totals.replies} replies · {totals.prompt_tokens} in · "
            f"{totals.completion_tokens} out tokens")
    if totals.cost_known:
        line += f" · ${totals.cost:.4f}"
    session.note(line)
    return True


def _help(session: ChatSession, _: str) -> bool:
    for command in COMMANDS.values():
        session.note(f"{(command.name + ' ' + command.argument).strip():<16} {command.help}")
    session.note("Enter sends · Alt-Enter or a trailing \\ starts a new line · "
                 "Ctrl-C stops a reply · Ctrl-D leaves")
    return True


def _exit(session: ChatSession, _: str) -> bool:
    return False


COMMANDS: dict[str, Slash] = {s.name: s for s in (
    Slash("/model", "NAME", "use another model (alone: show the current one)", _model),
    Slash("/models", "", "list the models the daemon serves", _models),
    Slash("/system", "TEXT", "set the system prompt (alone: show it; '-' removes it)", _system),
    Slash("/clear", "", "forget the conversation so far", _clear),
    Slash("/retry", "", "ask again for the last reply", _retry),
    Slash("/save", "FILE", "save the conversation as JSON", _save),
    Slash("/load", "FILE", "load a conversation saved with /save", _load),
    Slash("/usage", "", "tokens and cost of this session", _usage),
    Slash("/help", "", "this list", _help),
    Slash("/exit", "", "leave (or Ctrl-D)", _exit),
)}


def is_command(line: str) -> bool:
    return line.startswith("/") and not line.startswith("//")


def run_command(session: ChatSession, line: str) -> bool:
    """Run one slash command line; False means leave. A failure is one line, then the prompt."""
    name, _, argument = line.strip().partition(" ")
    command = COMMANDS.get(name.lower()) or (COMMANDS["/exit"] if name == "/quit" else None)
    if command is None:
        session.error(f"unknown command {name} (try /help)")
        return True
    try:
        return command.run(session, argument.strip())
    except ChatError as error:
        session.error(error.message)
        return True
