"""Showing a reply as it streams: rendered markdown on a terminal, plain text anywhere else.

On a terminal the reply is re-rendered as markdown while tokens arrive (rich
`Live`), showing only the last screenful so a long reply never scrolls the live
region off the screen (which would leave copies behind); when it ends the live
region is replaced by the whole reply, rendered once, and a dim footer saying
who answered and what it cost. Rendering happens at the refresh rate, not per
token, so a long reply costs one markdown parse per frame. Until the first token
comes the live region is a spinner naming the deployment the reply is waited
for (the daemon's route for the model), so a slow or stuck upstream is never a
silent screen.
"""

from __future__ import annotations

import sys
from typing import Any, Protocol

from llmp.cli.chat.client import Reply
from llmp.cli.visible import visible_text

CODE_THEME = "monokai"
FRAMES_PER_SECOND = 8


class ReplyView(Protocol):
    def __enter__(self) -> ReplyView: ...
    def __exit__(self, *exc: object) -> None: ...
    def add(self, text: str) -> None: ...
    def finish(self, reply: Reply) -> None: ...


def make_view(console: Any, *, markdown: bool, waiting: str | None = None) -> ReplyView:
    return MarkdownView(console, waiting) if markdown else PlainView()


class PlainView:
    """Text as it arrives, only its control characters escaped: for pipes, files and scripts."""

    def __init__(self) -> None:
        self._last = "\n"

    def __enter__(self) -> PlainView:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._last != "\n":
            sys.stdout.write("\n")
        sys.stdout.flush()

    def add(self, text: str) -> None:
        sys.stdout.write(visible_text(text))
        sys.stdout.flush()
        self._last = text[-1]

    def finish(self, reply: Reply) -> None:
        """Nothing more: a pipe gets the reply and only the reply."""


class _Tail:
    """The markdown of the text so far, cut to the last lines that fit on the screen."""

    def __init__(self, waiting: str | None = None) -> None:
        self.text = ""
        self._spinner: Any = None
        if waiting:
            from rich.spinner import Spinner

            self._spinner = Spinner("dots", text=waiting, style="dim")

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.markdown import Markdown
        from rich.segment import Segment

        if not self.text and self._spinner is not None:
            yield self._spinner
            return
        lines = console.render_lines(Markdown(self.text, code_theme=CODE_THEME), options, pad=False)
        for line in lines[-max(1, console.height - 2):]:
            yield from line
            yield Segment.line()


class MarkdownView:
    def __init__(self, console: Any, waiting: str | None = None) -> None:
        from rich.live import Live

        self.console = console
        self._tail = _Tail(waiting)
        self._live = Live(self._tail, console=console, transient=True,
                          refresh_per_second=FRAMES_PER_SECOND, redirect_stdout=False,
                          redirect_stderr=False)
        self._shown = False

    def __enter__(self) -> MarkdownView:
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._show()

    def add(self, text: str) -> None:
        self._tail.text += visible_text(text)

    def finish(self, reply: Reply) -> None:
        self._show()
        self.console.print(footer(reply), style="dim", highlight=False, markup=False)

    def _show(self) -> None:
        """Replace the live region by the whole reply, once."""
        if self._shown:
            return
        self._shown = True
        self._live.stop()
        if self._tail.text:
            from rich.markdown import Markdown

            self.console.print(Markdown(self._tail.text, code_theme=CODE_THEME))


def footer(reply: Reply) -> str:
    parts = []
    if reply.provider or reply.model:
        parts.append(f"{reply.provider or '?'}/{reply.model or '?'}")
    usage = reply.usage or {}
    if usage.get("prompt_tokens") is not None or usage.get("completion_tokens") is not None:
        parts.append(f"{usage.get('prompt_tokens', 0)} in · {usage.get('completion_tokens', 0)} out tokens")
    if reply.cost is not None:
        parts.append(f"${reply.cost:.4f}")
    if reply.latency is not None:
        timing = f"{reply.latency:.2f}s"
        if reply.time_to_first_token is not None:
            timing += f" (first token {reply.time_to_first_token:.2f}s)"
        parts.append(timing)
    if reply.interrupted:
        parts.append("stopped")
    return " · ".join(parts)
