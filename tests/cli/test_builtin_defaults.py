"""With no config file, llmp serves the mock provider, a local Ollama that answers,
and every known provider whose key is in its usual environment variable."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

from llmp.core.state import read_state
from tests.support.cli import run_llmp
from tests.support.fake_upstream import FakeUpstream, reply

pytestmark = pytest.mark.timeout(120)

OLLAMA_ANSWER = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "llama3.2:latest",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "from ollama"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
}


@pytest.fixture
def daemon(isolated_env: Path):
    started = []

    def start() -> openai.OpenAI:
        result = run_llmp("start", "--port", "0")
        assert result.code == 0, result.err
        started.append(True)
        state = read_state(isolated_env / "daemon.json")
        return openai.OpenAI(base_url=state.base_url + "/v1", api_key="x", max_retries=0)

    yield start
    if started:
        run_llmp("stop")


def test_local_ollama_and_env_keys_join_the_defaults(
    daemon, upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream.always(reply(OLLAMA_ANSWER))
    upstream.then(reply({"models": [{"name": "llama3.2:latest"}, {"name": "qwen2.5:7b"}]}))
    monkeypatch.setenv("OLLAMA_HOST", upstream.url.removeprefix("http://"))
    monkeypatch.setenv("GROQ_API_KEY", "gsk_example_key_0123456789")
    client = daemon()
    ids = {model.id for model in client.models.list()}
    assert {"mock-1", "ollama/llama3.2:latest", "ollama/qwen2.5:7b", "llama3.2:latest"} <= ids
    answer = client.chat.completions.create(
        model="llama3.2:latest", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "from ollama"
    assert upstream.requests[0].path == "/api/tags"
    assert upstream.requests[-1].path == "/v1/chat/completions"
    assert upstream.requests[-1].json["model"] == "llama3.2:latest"
    status = json.loads(run_llmp("status", "--json").out)
    assert set(status["providers"]) == {"mock", "groq", "ollama"}


def test_no_ollama_no_keys_still_serves_mock(daemon) -> None:
    client = daemon()
    assert {m.id for m in client.models.list()} == {"mock-1", "mock-echo", "mock/mock-1",
                                                    "mock/mock-echo"}
    answer = client.chat.completions.create(
        model="mock-echo", messages=[{"role": "user", "content": "offline works"}])
    assert answer.choices[0].message.content == "offline works"
