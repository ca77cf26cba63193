"""`llmp reload` / `POST /admin/reload`: an edited config file applied to the running daemon.

Each test starts the real daemon process, edits its config file, reloads, and
checks the result as a client sees it, with the official `openai` SDK.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from aiohttp import web

from llmp.core.state import DaemonState
from tests.daemon.routing_support import wait_until
from tests.support.cli import run_llmp
from tests.support.daemon_process import running_daemon
from tests.support.fake_upstream import Behaviour, FakeUpstream, sse_json
from tests.support.openai_server import chunks, completion, openai_server

pytestmark = pytest.mark.timeout(120)
QUIET = "defaults:\n  health_check: {enabled: false}\n"  # no probes in the upstreams' records
USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def openai_provider(name: str, upstream: FakeUpstream, model: str, extra: str = "") -> str:
    return (f"  {name}:\n    type: openai\n    base_url: {upstream.url}/v1\n    api_key: none\n"
            f"    models: [{model}]\n{extra}")


MOCK = "  mock:\n    type: mock\n    models: [mock-1]\n"


def write(home: Path, providers: str, *, server: str = "", rest: str = "") -> Path:
    path = home / "config.yaml"
    path.write_text(f"server:\n  port: 0\n{server}{QUIET}providers:\n{providers}{rest}")
    return path


@pytest.fixture
def fake(upstream: FakeUpstream) -> FakeUpstream:
    return upstream.always(openai_server(["from", " fake"]))


@pytest.fixture
def daemon(isolated_env: Path, fake: FakeUpstream) -> Iterator[DaemonState]:
    write(isolated_env, openai_provider("fake", fake, "gpt-fake") + MOCK)
    with running_daemon(isolated_env) as state:
        yield state


def client(state: DaemonState) -> openai.OpenAI:
    return openai.OpenAI(base_url=state.base_url + "/v1", api_key="unused", max_retries=0)


def ask(state: DaemonState, model: str) -> str:
    answer = client(state).chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}])
    return str(answer.choices[0].message.content)


def admin(state: DaemonState, method: str, path: str, token: str | None = None) -> httpx.Response:
    """`token=""` sends no Authorization header at all."""
    given = state.token if token is None else token
    headers = {"Authorization": f"Bearer {given}"} if given else {}
    return httpx.request(method, state.base_url + path, headers=headers, timeout=30)


def audit_events(home: Path, event: str) -> list[dict[str, Any]]:
    path = home / "logs" / "audit.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return [entry for entry in map(json.loads, lines) if entry["event"] == event]


def assert_model_not_found(state: DaemonState, model: str) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        ask(state, model)
    error = missing.value.response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "model_not_found" and model in error["message"]


def test_reload_adds_removes_and_reroutes(
    isolated_env: Path, daemon: DaemonState, fake: FakeUpstream, make_upstream
) -> None:
    second = make_upstream().always(openai_server(["from", " second"]))
    assert ask(daemon, "mock-1") == "hi"
    assert_model_not_found(daemon, "smart")

    write(isolated_env, openai_provider("fake", fake, "gpt-fake")
          + openai_provider("second", second, "gpt-second"),
          server="  allowed_hosts: [llmp.example]\n", rest="models:\n  smart: [second/gpt-second]\n")
    result = run_llmp("reload")

    assert result.code == 0, result.err
    line = result.out.strip()
    assert "\n" not in line and str(isolated_env / "config.yaml") in line
    assert "added second" in line and "removed mock" in line and "aliases changed" in line
    assert "NOT applied" in line and "server.allowed_hosts" in line
    assert ask(daemon, "smart") == "from second"  # the new alias, on the new provider
    assert second.requests[-1].json["model"] == "gpt-second"
    assert ask(daemon, "gpt-fake") == "from fake"  # the unchanged provider keeps serving
    assert_model_not_found(daemon, "mock-1")  # the removed provider is gone
    listed = {m.id for m in client(daemon).models.list()}
    assert {"smart", "second/gpt-second", "fake/gpt-fake"} <= listed and "mock-1" not in listed
    # The server section waits for a restart: the new allowed host is still refused.
    refused = httpx.get(daemon.base_url + "/v1/models", headers={"Host": "llmp.example"})
    assert refused.status_code == 403
    assert admin(daemon, "GET", "/admin/status").json()["reloaded_at"] is not None

    wait_until(lambda: audit_events(isolated_env, "config_reloaded"))  # written from a thread
    entry = audit_events(isolated_env, "config_reloaded")[0]
    assert entry["providers"] == {"added": ["second"], "removed": ["mock"], "changed": []}
    assert entry["needs_restart"] == ["server.allowed_hosts"]

    again = run_llmp("reload", "--json")  # nothing new: still says what waits for a restart
    assert again.code == 0, again.err
    answer = json.loads(again.out)
    assert answer["reloaded"] is True and answer["aliases_changed"] is False
    assert answer["providers"] == {"added": [], "removed": [], "changed": []}
    assert answer["needs_restart"] == ["server.allowed_hosts"]


def test_a_bad_config_is_refused_and_the_old_one_keeps_serving(
    isolated_env: Path, daemon: DaemonState, fake: FakeUpstream
) -> None:
    path = write(isolated_env, MOCK + "    modles: [x]\n")  # line 9: a typo
    refused = admin(daemon, "POST", "/admin/reload")

    assert refused.status_code == 400
    error = refused.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_config"
    assert f"{path}:9: providers.mock.modles: unknown option 'modles'" in error["message"]
    assert "running config is unchanged" in error["message"]
    cli = run_llmp("reload")
    assert cli.code == 1 and "modles" in cli.err and "config not reloaded" in cli.err
    as_json = run_llmp("reload", "--json")
    assert as_json.code == 1 and json.loads(as_json.out)["reloaded"] is False
    assert ask(daemon, "gpt-fake") == "from fake" and ask(daemon, "mock-1") == "hi"

    # Valid YAML whose alias cannot be routed (two providers serve `dup`): refused as a whole,
    # so the provider it would have added never appears either.
    write(isolated_env, MOCK + "  other:\n    type: mock\n    models: [mock-1]\n",
          rest="models:\n  pick: [mock-1]\n")
    ambiguous = admin(daemon, "POST", "/admin/reload")
    assert ambiguous.status_code == 400 and "several providers" in ambiguous.json()["error"]["message"]
    names = [p["name"] for p in admin(daemon, "GET", "/admin/providers").json()["providers"]]
    assert names == ["fake", "mock"]
    assert ask(daemon, "mock-1") == "hi"

    wait_until(lambda: len(audit_events(isolated_env, "config_reload_failed")) == 4)
    assert not audit_events(isolated_env, "config_reloaded")


def test_reload_needs_the_admin_token(isolated_env: Path, daemon: DaemonState) -> None:
    write(isolated_env, MOCK, rest="models:\n  smart: [mock-1]\n")
    for token in ("", "wrong-token"):
        answer = admin(daemon, "POST", "/admin/reload", token=token)
        assert answer.status_code == 401
        assert answer.json()["error"]["type"] == "authentication_error"
    assert_model_not_found(daemon, "smart")  # nothing was applied
    assert ask(daemon, "gpt-fake") == "from fake"
    assert admin(daemon, "POST", "/admin/reload").status_code == 200
    assert ask(daemon, "smart") == "hi"


def held_reply(release: threading.Event) -> Behaviour:
    """Answer only once the test says so."""

    async def behaviour(request: web.Request) -> web.StreamResponse:
        body = json.loads(await request.read())
        await asyncio.to_thread(release.wait, 60)
        return web.json_response(completion(body["model"], "held answer", USAGE))

    return behaviour


def held_stream(release: threading.Event) -> Behaviour:
    """Stream the first event, then hold the rest until the test says so."""

    async def behaviour(request: web.Request) -> web.StreamResponse:
        body = json.loads(await request.read())
        events = sse_json(chunks(body["model"], ["first", " second", " third"], None))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event in events[:2]:
            await response.write(event)
        await asyncio.to_thread(release.wait, 60)
        for event in events[2:]:
            await response.write(event)
        await response.write_eof()
        return response

    return behaviour


def test_requests_in_flight_finish_on_the_provider_they_started_with(
    isolated_env: Path, daemon: DaemonState, fake: FakeUpstream, make_upstream
) -> None:
    release = threading.Event()
    fake.then(held_reply(release), held_stream(release))
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(ask, daemon, "gpt-fake")
        wait_until(lambda: len(fake.requests) == 1)
        streamed = client(daemon).chat.completions.create(
            model="gpt-fake", messages=[{"role": "user", "content": "hi"}], stream=True)
        events = iter(streamed)
        first = [next(events), next(events)]  # the stream has begun: past any retry
        assert len(fake.requests) == 2

        # `fake` changes (so it is rebuilt, with new connections) and moves to another upstream.
        moved = make_upstream().always(openai_server(["from", " moved"]))
        write(isolated_env, openai_provider("fake", moved, "gpt-fake"))
        result = run_llmp("reload")
        assert result.code == 0, result.err
        assert "changed fake" in result.out and "removed mock" in result.out
        assert ask(daemon, "gpt-fake") == "from moved"  # new requests take the new config

        # Replaced, but kept open while requests run on them.
        retiring = admin(daemon, "GET", "/admin/status").json()["retiring_providers"]
        assert sorted(retiring) == ["fake", "mock"]
        release.set()
        assert waiting.result(timeout=30) == "held answer"
    rest = list(events)
    text = "".join(c.choices[0].delta.content or "" for c in [*first, *rest] if c.choices)
    assert text == "first second third" and rest[-1].choices[0].finish_reason == "stop"
    # The fake counts a stream once its handler returns, a moment after the client has read it.
    wait_until(lambda: fake.answered + fake.cancelled == 2)
    assert fake.cancelled == 0 and fake.answered == 2
    # Once they have ended, the replaced providers' connections are closed (no grace wait).

    def settled() -> bool:
        status = admin(daemon, "GET", "/admin/status").json()
        return status["in_flight"] == 0 and status["retiring_providers"] == []

    wait_until(settled)


def test_reload_without_a_daemon_says_it_is_not_running() -> None:
    result = run_llmp("reload")
    assert result.code == 1 and "not running" in result.err


def test_prices_and_log_level_take_effect(
    isolated_env: Path, daemon: DaemonState, fake: FakeUpstream
) -> None:
    def last_cost() -> Any:
        recent = admin(daemon, "GET", "/admin/stats").json()["recent"]
        return recent[0]["cost"] if recent else "none yet"

    def debug_lines() -> list[str]:
        text = (isolated_env / "logs" / "llmp.log").read_text()
        return [line for line in text.splitlines()
                if '"level":"debug"' in line and "POST /v1/chat/completions" in line]

    assert ask(daemon, "gpt-fake") == "from fake"
    wait_until(lambda: last_cost() != "none yet")
    assert last_cost() is None  # no price known for the fake model
    write(isolated_env, openai_provider("fake", fake, "gpt-fake"),
          rest="logging: {level: debug}\nprices:\n  fake/gpt-fake: {input: 1000000, output: 0}\n")
    assert run_llmp("reload").code == 0

    assert ask(daemon, "gpt-fake") == "from fake"
    wait_until(lambda: last_cost() == 7.0)  # 7 prompt tokens at $1 each
    wait_until(lambda: len(debug_lines()) == 1)  # only the request after the reload


def test_a_daemon_on_built_in_defaults_reads_a_config_file_written_since(
    isolated_env: Path, fake: FakeUpstream
) -> None:
    with running_daemon(isolated_env) as state:  # no config file yet: the built-in defaults
        assert ask(state, "mock-1") == "hi"
        assert_model_not_found(state, "gpt-fake")
        write(isolated_env, openai_provider("fake", fake, "gpt-fake"))
        result = run_llmp("reload")
        assert result.code == 0, result.err
        assert str(isolated_env / "config.yaml") in result.out and "added fake" in result.out
        assert ask(state, "gpt-fake") == "from fake"
        write(isolated_env, openai_provider("fake", fake, "gpt-fake") + MOCK)
        assert run_llmp("reload").code == 0  # from now on it is that file that is read
        assert ask(state, "mock-1") == "hi"
