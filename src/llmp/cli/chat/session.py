"""One chat: sending a prompt and showing its reply, and the interactive loop around it.

Ctrl-C while a reply streams stops that reply only: the interrupt unwinds out
of the stream, which closes the HTTP response (and with it the daemon's upstream
request), and the loop goes back to the prompt. Ctrl-C at the prompt clears the
line; Ctrl-D or `/exit` leaves.
"""

from __future__ import annotations

from typing import Any

from llmp.cli.chat.client import ChatClient, ChatError, Reply
from llmp.cli.chat.conversation import Conversation
from llmp.cli.chat.keyboard import echo_off
from llmp.cli.chat.render import ReplyView, make_view
from llmp.cli.chat.slash import is_command, run_command


class ChatSession:
    def __init__(
        self, client: ChatClient, conversation: Conversation, console: Any, error_console: Any,
        *, markdown: bool, stream: bool = True,
    ) -> None:
        self.client = client
        self.conversation = conversation
        self.console = console
        self.error_console = error_console
        self.markdown = markdown
        self.stream = stream

    def note(self, text: str) -> None:
        self.console.print(text, style="dim", markup=False, highlight=False)

    def error(self, text: str) -> None:
        self.error_console.print(f"[bold red]error:[/] {_escape(text)}", highlight=False,
                                 soft_wrap=True)

    def send(self, prompt: str) -> Reply | None:
        """Ask and show the reply; None when it failed (the failure is already shown)."""
        self.conversation.ask(prompt)
        try:
            with echo_off():
                reply = self._stream_reply() if self.stream else self._whole_reply()
        except ChatError as error:
            self.conversation.failed()
            self.error(error.message)
            return None
        self.conversation.answered(reply)
        return reply

    def _view(self) -> ReplyView:
        """The reply's view; on a terminal its spinner names who the reply is waited for."""
        waiting = self.client.waiting_for(self.conversation.model) if self.markdown else None
        return make_view(self.console, markdown=self.markdown, waiting=waiting)

    def _whole_reply(self) -> Reply:
        view = self._view()
        with view:
            try:
                reply = self.client.complete(self.conversation.request())
            except KeyboardInterrupt:
                reply = Reply(interrupted=True)
            view.add(reply.text)
        self.client.settle(reply)
        view.finish(reply)
        return reply

    def _stream_reply(self) -> Reply:
        stream = self.client.stream(self.conversation.request())
        view = self._view()
        try:
            with view, stream:
                for text in stream:
                    view.add(text)
        except KeyboardInterrupt:
            pass  # the stream is closed and its reply marked as stopped
        self.client.settle(stream.reply)
        view.finish(stream.reply)
        return stream.reply

    def run(self, read_line: Any) -> None:
        """The interactive loop; `read_line(prompt)` raises EOFError to leave."""
        self.note(f"llmp chat · model {self.conversation.model} · /help for commands · "
                  "Ctrl-D to leave")
        while True:
            try:
                line = read_line("> ").strip()
            except KeyboardInterrupt:
                continue
            except EOFError:
                return
            if not line:
                continue
            if is_command(line):
                try:
                    if not run_command(self, line):
                        return
                except KeyboardInterrupt:
                    self.note("stopped")
                continue
            self.send(line[1:] if line.startswith("//") else line)


def _escape(text: str) -> str:
    from llmp.cli.tables import cell

    return cell(text)
