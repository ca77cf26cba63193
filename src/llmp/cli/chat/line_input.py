"""Reading what the user types: line editing, history kept across sessions, multi-line input.

prompt_toolkit gives emacs-style editing, a history file, bracketed paste (a
pasted block arrives whole, newlines included, instead of being sent line by
line) and key bindings that readline cannot express portably (Alt-Enter).

Enter sends. Alt-Enter (or Esc then Enter) starts a new line, and so does Enter
after a trailing backslash, for terminals that swallow Alt.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any


def history_file(data_dir: Path) -> Path:
    return data_dir / "chat_history"


class LineInput:
    def __init__(self, history: Path, commands: Iterable[str]) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.completion import WordCompleter
        from prompt_toolkit.history import FileHistory

        history.parent.mkdir(parents=True, exist_ok=True)
        history.touch(mode=0o600, exist_ok=True)  # prompts can hold secrets: owner only
        self._session: Any = PromptSession(
            history=FileHistory(str(history)),
            multiline=True,
            key_bindings=_bindings(),
            completer=WordCompleter(sorted(commands), sentence=True,
                                    pattern=None, match_middle=False),
            complete_while_typing=False,
            prompt_continuation=lambda width, line, wrapped: "." * (width - 1) + " ",
        )

    def read(self, prompt: str = "> ") -> str:
        """The next input; raises `EOFError` on Ctrl-D and `KeyboardInterrupt` on Ctrl-C."""
        return str(self._session.prompt(prompt))


def _bindings() -> Any:
    from prompt_toolkit.key_binding import KeyBindings

    bindings = KeyBindings()

    @bindings.add("enter")
    def _send_or_continue(event: Any) -> None:
        buffer = event.current_buffer
        if buffer.document.text_before_cursor.endswith("\\"):
            buffer.delete_before_cursor(1)
            buffer.insert_text("\n")
            return
        buffer.validate_and_handle()

    @bindings.add("escape", "enter")
    def _new_line(event: Any) -> None:
        event.current_buffer.insert_text("\n")

    return bindings
