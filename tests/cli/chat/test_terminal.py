"""`llmp chat` in a real pseudo-terminal against the real daemon and a fake OpenAI upstream."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from tests.daemon.routing_support import wait_until
from tests.support.fake_upstream import FakeUpstream, fail, hang
from tests.support.openai_server import openai_server
from tests.support.terminal import Terminal, plain

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.close()


def open_chat(terminals: list[Terminal], *args: str, env: dict[str, str] | None = None) -> Terminal:
    terminal = Terminal("chat", *args, env=env)
    terminals.append(terminal)
    return terminal


def chat_bodies(upstream: FakeUpstream) -> list[dict]:
    return [r.json for r in upstream.requests if r.path.endswith("/chat/completions")]


def test_reply_streams_as_markdown_with_a_footer(daemon: FakeUpstream, terminals) -> None:
    daemon.always(openai_server(["Here is ", "**bold** text", "\n\n```python\nprint(1)\n```"],
                                usage={"prompt_tokens": 11, "completion_tokens": 5,
                                       "total_tokens": 16}))
    chat = open_chat(terminals)
    chat.wait_prompt()
    chat.say("show me")
    # The cost is the daemon's: 11 in at $1000/M + 5 out at $2000/M (conftest's prices).
    shown = chat.expect(
        r"fake/gpt-fake · 11 in · 5 out tokens · \$0\.0210 · [\d.]+s \(first token [\d.]+s\)")
    assert "Here is bold text" in shown  # the markdown was rendered: no asterisks left
    assert "**" not in shown
    assert "print(1)" in shown and "```" not in shown
    chat.wait_prompt()
    chat.say("/usage")
    chat.expect(r"1 replies · 11 in · 5 out tokens · \$0\.0210")
    chat.wait_prompt()
    assert chat.leave() == 0
    body = chat_bodies(daemon)[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["model"] == "gpt-fake"
    assert body["messages"] == [{"role": "user", "content": "show me"}]


def test_code_is_highlighted_in_colour(daemon: FakeUpstream, terminals) -> None:
    daemon.always(openai_server(["```python\n", "def answer():\n    return 42\n", "```\n"]))
    chat = open_chat(terminals, "--no-stream", env={"NO_COLOR": ""})
    chat.wait_prompt()
    chat.say("code please")
    chat.child.expect("fake/gpt-fake")
    shown = chat.child.before
    # A keyword, a name and a number each in their own 256-colour foreground (monokai).
    colours = {word: re.search(r"\x1b\[([0-9;]*)m" + word, shown)
               for word in ("def", "answer", "42")}
    assert all(colours.values()), shown
    codes = {match.group(1) for match in colours.values()}
    assert len(codes) == 3 and all("38;5;" in code for code in codes)
    chat.wait_prompt()
    assert chat.leave() == 0


def test_terminal_escapes_in_a_reply_are_shown_not_obeyed(daemon: FakeUpstream, terminals) -> None:
    """Rendered as markdown too, an upstream's OSC 52 (clipboard) and title sequences reach the
    terminal as visible text, never as sequences."""
    daemon.always(openai_server(["Title\x1b]0;pwned\x07 then", " clip\x1b]52;c;ZXZpbA==\x07 done"]))
    chat = open_chat(terminals)
    chat.wait_prompt()
    chat.say("hi")
    chat.child.expect("fake/gpt-fake")
    shown = chat.child.before
    assert "\x1b]" not in shown and "\x07" not in shown
    assert "Title\\x1b]0;pwned\\x07 then clip\\x1b]52;c;ZXZpbA==\\x07 done" in plain(shown)
    chat.wait_prompt()
    assert chat.leave() == 0


def test_slash_commands(daemon: FakeUpstream, terminals, tmp_path: Path) -> None:
    daemon.always(openai_server(["fine"]))
    chat = open_chat(terminals)
    chat.wait_prompt()
    chat.say("/system You are terse.")
    chat.expect("system prompt set")
    chat.wait_prompt()
    chat.say("first question")
    chat.expect("fake/gpt-fake")
    chat.wait_prompt()
    assert chat_bodies(daemon)[-1]["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "first question"},
    ]

    chat.say("/retry")
    chat.expect("fake/gpt-fake")
    chat.wait_prompt()
    assert chat_bodies(daemon)[-1] == chat_bodies(daemon)[-2]
    chat.say("/system")
    chat.expect("system prompt: You are terse.")
    chat.wait_prompt()

    saved = tmp_path / "conversation.json"
    chat.say(f"/save {saved}")
    chat.expect("saved 2 messages")
    chat.wait_prompt()
    data = json.loads(saved.read_text())
    assert data["model"] == "fake/gpt-fake" and data["system"] == "You are terse."
    assert data["messages"] == [{"role": "user", "content": "first question"},
                                {"role": "assistant", "content": "fine"}]

    chat.say("/clear")
    chat.expect("conversation cleared")
    chat.wait_prompt()
    chat.say("/usage")
    chat.expect(r"2 replies · 14 in · 2 out tokens")
    chat.wait_prompt()
    chat.say("/model mock/mock-1")
    chat.expect("model: mock/mock-1")
    chat.wait_prompt()
    chat.say("echo me")
    chat.expect("mock/mock-1 ·")
    chat.wait_prompt()

    chat.say(f"/load {tmp_path / 'missing.json'}")
    chat.expect("cannot read .*missing.json")
    chat.wait_prompt()
    chat.say(f"/load {saved}")
    chat.expect(r"loaded 2 messages \(model fake/gpt-fake\)")
    chat.wait_prompt()
    chat.say("second question")
    chat.expect("fake/gpt-fake")
    chat.wait_prompt()
    assert chat_bodies(daemon)[-1]["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "fine"},
        {"role": "user", "content": "second question"},
    ]

    chat.say("/models")
    listing = chat.expect("mock-1")
    assert "→ fake/gpt-fake" in listing
    chat.wait_prompt()
    chat.say("/model no-such-model")
    chat.expect(r"The model 'no-such-model' does not exist")
    assert "error: The model 'no-such-model'" in chat.output()
    chat.wait_prompt()
    chat.say("/bogus")
    chat.expect(r"unknown command /bogus \(try /help\)")
    chat.wait_prompt()
    chat.say("/help")
    chat.expect("/load FILE")
    chat.wait_prompt()
    chat.say("/exit")
    chat.child.expect(pexpect.EOF)
    chat.child.close()
    assert chat.child.exitstatus == 0


def test_ctrl_c_stops_the_reply_and_its_upstream_request(daemon: FakeUpstream, terminals) -> None:
    daemon.always(openai_server([f"word{i} " for i in range(200)], chunk_delay=0.1))
    chat = open_chat(terminals)
    chat.wait_prompt()
    chat.say("talk for a long time")
    chat.expect("word2")
    chat.interrupt()
    footer = chat.expect(r"stopped")
    assert "word199" not in footer
    assert "^C" not in footer  # an echo would push the live region down a line
    wait_until(lambda: daemon.cancelled == 1)
    chat.wait_prompt()

    daemon.always(openai_server(["still here"]))
    chat.say("are you there?")
    chat.expect("still here")
    chat.wait_prompt()
    body = chat_bodies(daemon)[-1]
    assert body["messages"][0] == {"role": "user", "content": "talk for a long time"}
    assert body["messages"][1]["role"] == "assistant"
    assert body["messages"][1]["content"].startswith("word0 word1 word2")
    assert chat.leave() == 0


def test_keys_typed_during_a_reply_wait_for_the_next_prompt(daemon: FakeUpstream,
                                                            terminals) -> None:
    daemon.always(openai_server([f"word{i} " for i in range(20)], chunk_delay=0.05))
    chat = open_chat(terminals)
    chat.wait_prompt()
    chat.say("first")
    chat.expect("word1")
    chat.child.send("second")
    shown = chat.expect("fake/gpt-fake")
    assert "second" not in shown  # not echoed into the reply being drawn
    chat.wait_prompt()
    chat.say("")  # the typed-ahead line is already in the prompt: Enter sends it
    chat.expect("fake/gpt-fake")
    chat.wait_prompt()
    assert chat_bodies(daemon)[-1]["messages"][-1] == {"role": "user", "content": "second"}
    assert chat.leave() == 0


@pytest.mark.parametrize("args", [(), ("--no-stream",)], ids=["stream", "no-stream"])
def test_ctrl_c_before_the_first_token_cancels_too(daemon: FakeUpstream, terminals,
                                                   args: tuple[str, ...]) -> None:
    daemon.always(hang())
    chat = open_chat(terminals, *args)
    chat.wait_prompt()
    chat.say("are you stuck?")
    wait_until(lambda: len(daemon.requests) == 1)
    chat.interrupt()
    chat.expect("stopped")
    wait_until(lambda: daemon.cancelled == 1)
    chat.wait_prompt()
    assert chat.leave() == 0


def test_multi_line_input(daemon: FakeUpstream, terminals) -> None:
    daemon.always(openai_server(["ok"]))
    chat = open_chat(terminals)
    chat.wait_prompt()
    chat.child.send("one\\\r")  # trailing backslash: a new line, not sent
    chat.child.send("two\x1b\r")  # Alt-Enter: a new line
    chat.say("three")
    chat.expect("fake/gpt-fake")
    chat.wait_prompt()
    assert chat_bodies(daemon)[-1]["messages"][-1]["content"] == "one\ntwo\nthree"
    chat.child.send("\x1b[200~pasted\nblock\x1b[201~")  # bracketed paste keeps its newline
    chat.say("")
    chat.expect("fake/gpt-fake")
    chat.wait_prompt()
    assert chat_bodies(daemon)[-1]["messages"][-1]["content"] == "pasted\nblock"
    assert chat.leave() == 0


def test_line_editing(daemon: FakeUpstream, terminals) -> None:
    chat = open_chat(terminals)
    chat.wait_prompt()
    left, right = "\x1b[D", "\x1b[C"
    chat.child.send("helo wrld" + left * 3 + "o")  # arrows move within the line
    chat.child.send("\x01" + right * 3 + "l")  # Ctrl-A: to the start
    chat.child.send("\x05 again!\x17")  # Ctrl-E: to the end; Ctrl-W deletes a word back
    chat.say("")
    chat.expect("fake/gpt-fake")
    chat.wait_prompt()
    assert chat_bodies(daemon)[-1]["messages"][-1]["content"] == "hello world"
    assert chat.leave() == 0


def test_history_persists_between_sessions(daemon: FakeUpstream, terminals) -> None:
    daemon.always(openai_server(["ok"]))
    first = open_chat(terminals)
    first.wait_prompt()
    first.say("remember this line")
    first.expect("fake/gpt-fake")
    first.wait_prompt()
    assert first.leave() == 0
    history = Path(os.environ["LLMP_HOME"]) / "chat_history"
    assert "remember this line" in history.read_text()
    assert history.stat().st_mode & 0o777 == 0o600

    second = open_chat(terminals)
    second.wait_prompt()
    second.child.send("\x1b[A")  # Up: the previous session's line
    second.say("")
    second.expect("fake/gpt-fake")
    second.wait_prompt()
    assert chat_bodies(daemon)[-1]["messages"] == [
        {"role": "user", "content": "remember this line"}]
    assert second.leave() == 0


def test_a_failing_reply_is_one_line_and_the_session_goes_on(daemon: FakeUpstream,
                                                             terminals) -> None:
    daemon.always(openai_server(["recovered"])).then(fail(500))
    chat = open_chat(terminals)
    chat.wait_prompt()
    chat.say("please")
    chat.expect("fake upstream failure 500")
    assert "error: fake upstream failure 500" in chat.output()
    assert "Traceback" not in chat.output()
    chat.wait_prompt()
    chat.say("/retry")
    chat.expect("recovered")
    chat.wait_prompt()
    assert chat_bodies(daemon)[-1]["messages"] == [{"role": "user", "content": "please"}]
    assert chat.leave() == 0


def test_one_shot_in_a_terminal_renders_markdown(daemon: FakeUpstream, terminals) -> None:
    daemon.always(openai_server(["# Title\n\n", "*emphasis*"]))
    chat = open_chat(terminals, "hello")
    chat.child.expect("fake/gpt-fake")
    chat.child.expect(pexpect.EOF)
    text = chat.output()
    assert "Title" in text and "# Title" not in text and "*emphasis*" not in text
    chat.child.close()
    assert chat.child.exitstatus == 0


def test_unknown_model_at_start_is_a_clear_error(daemon: FakeUpstream, terminals) -> None:
    chat = open_chat(terminals, "-m", "nope")
    chat.child.expect(pexpect.EOF)
    chat.child.close()
    assert chat.child.exitstatus == 1
    assert "error: The model 'nope' does not exist" in chat.output()
    assert "Traceback" not in chat.output()


def test_no_stream_waits_for_the_whole_reply(daemon: FakeUpstream, terminals) -> None:
    daemon.always(openai_server(["all ", "at ", "once"]))
    chat = open_chat(terminals, "--no-stream", "-s", "Be brief.")
    chat.wait_prompt()
    chat.say("go")
    shown = chat.expect(r"fake/gpt-fake · 7 in · 3 out tokens · \$0\.0130 · [\d.]+s")
    assert "all at once" in shown and "first token" not in shown
    chat.wait_prompt()
    body = chat_bodies(daemon)[-1]
    assert body["stream"] is False
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert chat.leave() == 0


def test_ctrl_c_stops_a_one_shot_reply_with_code_130(daemon: FakeUpstream, terminals) -> None:
    daemon.always(openai_server([f"word{i} " for i in range(200)], chunk_delay=0.1))
    chat = open_chat(terminals, "tell me everything")
    chat.expect("word1")
    chat.interrupt()
    chat.child.expect(pexpect.EOF)
    chat.child.close()
    assert chat.child.exitstatus == 130
    assert "stopped" in chat.output() and "Traceback" not in chat.output()
    wait_until(lambda: daemon.cancelled == 1)


def test_ctrl_c_stops_a_json_one_shot_and_its_upstream_request(daemon: FakeUpstream,
                                                               terminals) -> None:
    daemon.always(hang())
    chat = open_chat(terminals, "--json", "wait for it")
    wait_until(lambda: len(daemon.requests) == 1)
    chat.interrupt()
    chat.child.expect(pexpect.EOF)
    chat.child.close()
    assert chat.child.exitstatus == 130
    assert "Traceback" not in chat.output()
    wait_until(lambda: daemon.cancelled == 1)
