"""`llmp chat "prompt"` as scripts use it: no terminal, plain output, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmp.core.state import read_state
from tests.daemon.routing_support import wait_until
from tests.support.auth_upstream import requires_key
from tests.support.cli import llmp_env, run_llmp
from tests.support.daemon_process import write_config
from tests.support.fake_upstream import FakeUpstream, fail, sse_json, stream
from tests.support.openai_server import chunks, openai_server

pytestmark = pytest.mark.timeout(90)


def chat(*args: str, stdin: str = "") -> tuple[int, str, str]:
    result = run_llmp("chat", *args, stdin=stdin)
    return result.code, result.out, result.err


def sent(upstream: FakeUpstream) -> dict:
    bodies = [r.json for r in upstream.requests if r.path.endswith("/chat/completions")]
    assert len(bodies) == 1
    return bodies[0]


def test_prompt_prints_the_reply_as_plain_text(daemon: FakeUpstream) -> None:
    daemon.always(openai_server(["**not** ", "rendered"]))
    code, out, err = chat("say something")
    assert (code, out) == (0, "**not** rendered\n")
    assert "\x1b[" not in out and err == ""
    body = sent(daemon)
    assert body["stream"] is True and body["model"] == "gpt-fake"
    assert body["messages"] == [{"role": "user", "content": "say something"}]


def test_piped_output_streams_as_it_arrives(daemon: FakeUpstream) -> None:
    """A pipe gets each piece when it comes, not the whole reply at the end."""
    daemon.always(openai_server(["first ", *(["more "] * 100)], chunk_delay=0.2))
    process = subprocess.Popen([sys.executable, "-m", "llmp", "chat", "hi"], env=llmp_env(),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        assert os.read(process.stdout.fileno(), 6) == b"first "
        assert process.poll() is None  # the reply is still streaming
    finally:
        process.kill()
        process.communicate()
    wait_until(lambda: daemon.cancelled == 1)  # a killed chat stops its request too


def test_options_reach_the_upstream(daemon: FakeUpstream) -> None:
    code, _, _ = chat("-m", "fake/gpt-fake", "-s", "Be brief.", "--temperature", "0.2",
                      "--max-tokens", "42", "--no-stream", "hi")
    assert code == 0
    body = sent(daemon)
    assert body["stream"] is False
    assert body["temperature"] == 0.2 and body["max_tokens"] == 42
    assert body["messages"] == [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "hi"}]


def test_piped_stdin_is_put_before_the_prompt(daemon: FakeUpstream) -> None:
    code, out, _ = chat("-m", "mock-1", "review this", stdin="diff --git a/x b/x\n+new line\n")
    assert code == 0
    assert out == "diff --git a/x b/x\n+new line\n\nreview this\n"  # the mock echoes its prompt


def test_piped_stdin_alone_is_the_prompt(daemon: FakeUpstream) -> None:
    code, out, _ = chat("-m", "mock-1", stdin="just this\n")
    assert (code, out) == (0, "just this\n")


def test_json_prints_the_raw_response(daemon: FakeUpstream) -> None:
    daemon.always(openai_server(["raw"], usage={"prompt_tokens": 3, "completion_tokens": 1,
                                                "total_tokens": 4}))
    code, out, _ = chat("--json", "hi")
    assert code == 0
    data = json.loads(out)
    assert data["object"] == "chat.completion"
    assert data["choices"][0]["message"]["content"] == "raw"
    assert data["usage"]["total_tokens"] == 4
    assert sent(daemon)["stream"] is False


@pytest.mark.parametrize(("args", "message"), [
    (("-m", "gpt-nope", "hi"), "error: The model 'gpt-nope' does not exist"),
    (("-m", "mock-1", "--json", ""), "error: nothing to send"),
])
def test_clear_errors(daemon: FakeUpstream, args: tuple[str, ...], message: str) -> None:
    code, out, err = chat(*args)
    assert code == 1 and out == ""
    assert err.startswith(message) and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_provider_failure_is_one_line(daemon: FakeUpstream) -> None:
    daemon.always(fail(401, {"error": {"message": "Incorrect API key provided",
                                       "type": "invalid_request_error", "code": "invalid_api_key",
                                       "param": None}}))
    code, out, err = chat("hi")
    assert (code, out) == (1, "")
    assert err.strip() == ("error: Incorrect API key provided "
                           "(check the API key of provider 'fake')")


def test_a_stream_cut_midway_is_an_error(daemon: FakeUpstream) -> None:
    events = sse_json(chunks("gpt-fake", ["partial", " answer"], None))
    daemon.always(stream(events, delay=0.1, drop_after=2))
    code, out, err = chat("hi")
    assert code == 1
    assert out == "partial\n"
    assert err.startswith("error: ") and "Traceback" not in err


def test_chat_starts_the_daemon_when_it_is_not_running(isolated_env: Path) -> None:
    write_config(isolated_env, "  mock:\n    type: mock\n    models: [mock-1]\n")
    try:
        code, out, err = chat("wake up")
        assert (code, out) == (0, "wake up\n")
        assert "starting it" in err and "llmp started at http://127.0.0.1:" in err
        assert read_state(isolated_env / "daemon.json") is not None
    finally:
        run_llmp("stop")


def test_default_model_and_providers_down_or_without_a_key(
    isolated_env: Path, upstream: FakeUpstream,
) -> None:
    upstream.always(requires_key("sk-the-right-key-0123456789"))
    write_config(isolated_env, "  down:\n    type: openai\n    base_url: http://127.0.0.1:9/v1\n"
                               "    api_key: none\n    models: [m]\n"
                               "  mock:\n    type: mock\n    models: [mock-1]\n"
                               f"  keyless:\n    type: openai\n    base_url: {upstream.url}/v1\n"
                               "    api_key: env:LLMP_TEST_UNSET_KEY\n    models: [gpt-4o-mini]\n",
                 "models:\n  default: [mock/mock-1]\n")
    try:
        assert chat("hello?")[:2] == (0, "hello?\n")  # the alias, not the first provider
        code, out, err = chat("-m", "down/m", "hello?")
        assert (code, out) == (1, "")
        assert err.splitlines()[-1].startswith("error: cannot connect to provider 'down'")
        code, out, err = chat("-m", "keyless/gpt-4o-mini", "hello?")
        assert (code, out) == (1, "")
        assert err.strip() == (
            "error: no API key for provider 'keyless': set LLMP_TEST_UNSET_KEY or run "
            "`llmp keys set keyless`")
        assert upstream.requests == [], "no request leaves without its key"
        assert "Traceback" not in err
    finally:
        run_llmp("stop")


def test_llmp_model_chooses_the_model(daemon: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMP_MODEL", "mock/mock-1")
    assert chat("from the environment")[:2] == (0, "from the environment\n")
    assert daemon.requests == []


HOSTILE = ["Title\x1b]0;pwned\x07 then", " clip\x1b]52;c;ZXZpbA==\x07,", " csi\x9b2J\n\tindented"]


def test_terminal_escapes_in_a_reply_are_shown_not_obeyed(daemon: FakeUpstream) -> None:
    """An upstream's reply cannot set the title or write the clipboard: its control characters
    are printed as escapes; the reply's own line breaks and tabs stay."""
    daemon.always(openai_server(HOSTILE))
    code, out, err = chat("hi")
    assert (code, err) == (0, "")
    assert out == ("Title\\x1b]0;pwned\\x07 then clip\\x1b]52;c;ZXZpbA==\\x07, csi\\x9b2J\n"
                   "\tindented\n")
