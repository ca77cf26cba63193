"""`llmp chat`: talk to any configured model from the terminal, interactively or one-shot.

With a prompt argument or piped input it sends once, prints the reply and
exits (plain text when stdout is not a terminal, so it composes with pipes);
otherwise it opens an interactive session. Heavy imports (httpx, rich,
prompt_toolkit) happen here, inside the command, never at `llmp --help`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from llmp.cli.command_table import command_help
from llmp.cli.completion import complete_model

if TYPE_CHECKING:
    from llmp.cli.chat.client import ChatClient
    from llmp.cli.chat.conversation import Conversation
    from llmp.cli.chat.session import ChatSession

EXIT_INTERRUPTED = 130  # what a shell reports for a program stopped by Ctrl-C


PROMPT = typer.Argument(
    None, help="Send this, print the reply and exit. Without it: an interactive chat.")


def chat(
    prompt: list[str] | None = PROMPT,
    model: str | None = typer.Option(
        None, "--model", "-m", autocompletion=complete_model,
        help="Model or alias (default: LLMP_MODEL, an alias 'chat' or "
        "'default', else the first chat model the daemon serves)."),
    system: str | None = typer.Option(None, "--system", "-s", help="System prompt."),
    temperature: float | None = typer.Option(None, "--temperature", min=0.0, max=2.0),
    max_tokens: int | None = typer.Option(None, "--max-tokens", min=1),
    no_stream: bool = typer.Option(False, "--no-stream", help="Wait for the whole reply."),
    json_output: bool = typer.Option(
        False, "--json", help="Print the daemon's raw JSON response (implies --no-stream)."),
) -> None:
    """Piped input becomes the prompt, or is put before it: git diff | llmp chat "review this"."""
    from llmp.cli.console import fail

    text = _prompt_text(prompt)
    hint = prompt_hint(model, prompt)
    if text is not None and not text.strip():
        fail("nothing to send: the prompt and the piped input are empty" + hint)
    if text is None and json_output:
        fail("--json needs a prompt (an argument or piped input)")
    _chat(text, model, system, temperature, max_tokens, stream=not (no_stream or json_output),
          json_output=json_output, hint=hint)


def prompt_hint(model: str | None, prompt: list[str] | None) -> str:
    """`llmp chat -m hi`: a lone value after -m that reads like a prompt, not a model name."""
    if not model or prompt or "/" in model:
        return ""
    return (f" (-m/--model names the model; the prompt is an argument: "
            f"llmp chat \"{model}\", or llmp chat -m MODEL \"{model}\")")


def _prompt_text(words: list[str] | None) -> str | None:
    """The one-shot prompt: piped stdin, then the argument; None means interactive."""
    argument = " ".join(words) if words else None
    if sys.stdin is None or sys.stdin.isatty():
        return argument
    piped = sys.stdin.buffer.read().decode("utf-8", "replace")
    if not piped.strip():
        return argument if argument is not None else ""
    return piped if argument is None else f"{piped.rstrip()}\n\n{argument}"


def _chat(
    text: str | None, model: str | None, system: str | None, temperature: float | None,
    max_tokens: int | None, *, stream: bool, json_output: bool, hint: str = "",
) -> None:
    from llmp.cli.autostart import ensure_daemon
    from llmp.cli.chat.client import ChatClient, ChatError
    from llmp.cli.chat.conversation import Conversation
    from llmp.cli.chat.models import default_model
    from llmp.cli.console import console, error_console, fail

    state = ensure_daemon()
    client = ChatClient(state.base_url, state.token)
    try:
        chosen = default_model([] if model else client.usable_models(), model)
        if chosen is None:
            fail("the daemon serves no models: configure a provider (see config.example.yaml)")
        conversation = Conversation(chosen, system, temperature, max_tokens)
        if json_output:
            _print_json(client, conversation, text or "")
            return
        out = console()
        from llmp.cli.chat.session import ChatSession

        session = ChatSession(client, conversation, out, error_console(),
                              markdown=out.is_terminal, stream=stream)
        if text is None:
            client.check_model(chosen)
            _interactive(session)
            return
        reply = session.send(text)
        if reply is None:
            raise typer.Exit(1)
        if reply.interrupted:
            raise typer.Exit(EXIT_INTERRUPTED)
    except ChatError as error:
        fail(error.message + (hint if error.status == 404 else ""))
    finally:
        client.close()


def _print_json(client: ChatClient, conversation: Conversation, text: str) -> None:
    conversation.ask(text)
    try:
        reply = client.complete(conversation.request())
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_INTERRUPTED) from None
    sys.stdout.write(reply.raw.decode("utf-8", "replace").rstrip("\n") + "\n")


def _interactive(session: ChatSession) -> None:
    from llmp.cli.chat.line_input import LineInput, history_file
    from llmp.cli.chat.slash import COMMANDS
    from llmp.core.paths import resolve_paths

    paths = resolve_paths()
    line_input = LineInput(history_file(paths.data_dir), [*COMMANDS, "/quit"])
    session.run(line_input.read)


def register(app: typer.Typer) -> None:
    app.command(help=command_help("chat", chat.__doc__))(chat)
