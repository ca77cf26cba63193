"""What `llmp chat` says while it waits: a spinner naming the provider, and why nobody answers
when every target is held back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from tests.cli.chat.test_one_shot import chat
from tests.cli.chat.test_terminal import open_chat, terminals  # noqa: F401 (a fixture)
from tests.support.daemon_process import running_daemon, write_config
from tests.support.fake_upstream import FakeUpstream, fail
from tests.support.openai_server import openai_server

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, FakeUpstream]]:
    """A daemon whose deployments open their circuit at the first failure, for 10 minutes,
    with no health check to close it, and requests that never wait for a probe."""
    home = tmp_path_factory.mktemp("llmp-home")
    upstream = FakeUpstream().start()
    write_config(home, f"""\
  fake:
    type: openai
    base_url: {upstream.url}/v1
    api_key: none
    models: [gpt-fake, gpt-slow]
    retry: {{attempts: 0}}
    circuit_breaker: {{failure_threshold: 1, failure_rate: null, recovery_time: 600}}
    health_check: {{enabled: false}}
""", "routing: {max_wait: 0}\n")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("LLMP_HOME", str(home))
            with running_daemon(home):
                yield home, upstream
    finally:
        upstream.stop()


@pytest.fixture
def daemon(strict: tuple[Path, FakeUpstream], monkeypatch: pytest.MonkeyPatch) -> FakeUpstream:
    monkeypatch.setenv("LLMP_HOME", str(strict[0]))
    return strict[1]


def test_a_held_back_model_is_explained_on_stderr(daemon: FakeUpstream) -> None:
    daemon.always(openai_server()).then(fail(500))
    code, _, err = chat("-m", "fake/gpt-fake", "hi")
    assert code == 1 and "fake upstream failure 500" in err
    code, out, err = chat("-m", "fake/gpt-fake", "hi again")  # its circuit is open now
    assert (code, out) == (1, "")
    assert err.startswith("error: every target for 'fake/gpt-fake' is held back: fake/gpt-fake (")
    assert "retried in" in err and "Traceback" not in err


def test_a_spinner_names_the_provider_until_the_reply_comes(daemon: FakeUpstream,
                                                            terminals) -> None:  # noqa: F811
    daemon.always(openai_server(["slow ", "answer"], chunk_delay=1.5))
    shown = open_chat(terminals, "-m", "fake/gpt-slow", "take your time")
    waiting = shown.expect("slow answer")
    assert "waiting for fake/gpt-slow" in waiting
    shown.child.expect(pexpect.EOF)
    shown.child.close()
    assert shown.child.exitstatus == 0
