"""`llmp test`: healthy, unauthorized, unreachable, slow and keyless providers, both paths."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.support.cli import Result, run_llmp
from tests.support.daemon_process import running_daemon, write_config
from tests.support.fake_upstream import Behaviour, FakeUpstream, fail
from tests.support.openai_server import openai_server

pytestmark = pytest.mark.timeout(120)

BAD_KEY = "sk-live-abcdef1234567890WXYZ"
REFUSAL = {"error": {"message": f"Incorrect API key provided: {BAD_KEY}.",
                     "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}


def providers_yaml(healthy: str, refusing: str, unlisted: str) -> str:
    return f"""\
  fake:
    type: openai
    base_url: {healthy}/v1
    api_key: none
  badkey:
    type: openai
    base_url: {refusing}/v1
    api_key: env:BADKEY_VALUE
    models: [gpt-x]
  down:
    type: openai
    base_url: http://127.0.0.1:9/v1
    api_key: none
    models: [m]
  slow:
    type: mock
    models: [mock-1]
    mock: {{delay: 5}}
  sluggish:
    type: mock
    models: [mock-1, mock-embed]
    mock: {{delay: 0.3}}
  nokey:
    type: openai
    base_url: {healthy}/v1
    api_key: env:UNSET_VARIABLE_FOR_LLMP_TEST
    models: [gpt-fake]
  nolist:
    type: openai
    base_url: {unlisted}/v1
    api_key: env:NOLIST_VALUE
    models: [gpt-fake]
  keyed:
    type: openai
    base_url: {unlisted}/v1
    api_key: env:NOLIST_VALUE
    models: [gpt-fake]
"""


NOLIST_KEY = "sk-nolist-0123456789abcdefKEY2"


def without_model_list(answer: Behaviour) -> Behaviour:
    """A server with no `/models` (404), answering everything else with `answer`."""

    async def behaviour(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/models"):
            return await fail(404, {"error": {"message": "Not found", "type": "not_found"}})(request)
        return await answer(request)

    return behaviour


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, FakeUpstream, ...]]:
    home = tmp_path_factory.mktemp("llmp-home")
    healthy = FakeUpstream().start()
    refusing = FakeUpstream().start()
    unlisted = FakeUpstream().start()
    write_config(home, providers_yaml(healthy.url, refusing.url, unlisted.url))
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("LLMP_HOME", str(home))
            patch.setenv("BADKEY_VALUE", BAD_KEY)
            patch.setenv("NOLIST_VALUE", NOLIST_KEY)
            with running_daemon(home):
                yield home, healthy, refusing, unlisted
    finally:
        for upstream in (healthy, refusing, unlisted):
            upstream.stop()


@pytest.fixture
def upstreams(setup, isolated_env: Path, monkeypatch: pytest.MonkeyPatch):
    home, healthy, refusing, unlisted = setup
    monkeypatch.setenv("LLMP_HOME", str(home))
    monkeypatch.setenv("BADKEY_VALUE", BAD_KEY)
    monkeypatch.setenv("NOLIST_VALUE", NOLIST_KEY)
    healthy.requests.clear()
    healthy.always(openai_server())
    refusing.always(fail(401, REFUSAL))
    unlisted.always(without_model_list(openai_server()))
    return healthy, refusing, unlisted


def llmp_test(*args: str) -> Result:
    return run_llmp("test", *args, stdin="")


def checks(result: Result, provider: str) -> dict[str, dict]:
    data = json.loads(result.out)
    report = next(p for p in data["providers"] if p["provider"] == provider)
    return {check["check"]: check for check in report["checks"]}


def statuses(result: Result, provider: str) -> dict[str, str]:
    return {name: check["status"] for name, check in checks(result, provider).items()}


@pytest.mark.parametrize("direct", [False, True], ids=["daemon", "direct"])
def test_healthy_provider_passes_every_check(upstreams, direct: bool) -> None:
    healthy, _, _ = upstreams
    result = llmp_test("fake", "--json", *(["--direct"] if direct else []))
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["ok"] is True and data["mode"] == ("direct" if direct else "daemon")
    assert data["providers"][0]["model"] == "gpt-fake"  # from the upstream's list: config says "*"
    found = checks(result, "fake")
    assert [c["status"] for c in found.values()] == ["ok"] * 6
    assert found["key"]["detail"] == "not needed"
    assert found["reachable"]["detail"] == "2 models listed"
    assert found["embeddings"]["detail"] == "text-embedding-fake"
    for name in ("reachable", "completion", "stream", "embeddings"):
        assert found[name]["latency_ms"] >= 0
    posted = [(r.path, r.json) for r in healthy.requests if r.method == "POST"]
    completions = [body for path, body in posted if path == "/v1/chat/completions"]
    assert [body.get("stream") for body in completions] == [False, True]
    assert all(body["max_tokens"] == 1 and body["model"] == "gpt-fake" for body in completions)
    assert ("/v1/embeddings", {"model": "text-embedding-fake", "input": ["llmp test"]}) in posted


def test_table_for_people(upstreams) -> None:
    result = llmp_test("fake", "sluggish")
    assert result.code == 0, result.err
    assert "llmp test · through the daemon at http://127.0.0.1:" in result.out
    assert "✓ 2 of 2 healthy" in result.out
    assert result.out.count("✓") >= 12 and "✗" not in result.out


@pytest.mark.parametrize("direct", [False, True], ids=["daemon", "direct"])
def test_unauthorized_provider_fails_with_the_key_masked(upstreams, direct: bool) -> None:
    result = llmp_test("badkey", "--json", *(["--direct"] if direct else []))
    assert result.code == 1
    assert statuses(result, "badkey") == {
        "key": "ok", "reachable": "ok", "authenticated": "fail",
        "completion": "skip", "stream": "skip", "embeddings": "skip"}
    detail = checks(result, "badkey")["authenticated"]["detail"]
    assert detail == "Incorrect API key provided: sk-…WXYZ."
    table = llmp_test("badkey", *(["--direct"] if direct else []))
    for output in (result.out, result.err, table.out, table.err):
        assert BAD_KEY not in output and "abcdef1234567890" not in output
    assert "sk-…WXYZ" in table.out and "✗ 1 of 1 failing: badkey" in table.out


@pytest.mark.parametrize("direct", [False, True], ids=["daemon", "direct"])
def test_unreachable_provider(upstreams, direct: bool) -> None:
    result = llmp_test("down", "--json", *(["--direct"] if direct else []))
    assert result.code == 1
    found = checks(result, "down")
    assert found["reachable"]["status"] == "fail"
    assert "cannot connect to provider 'down'" in found["reachable"]["detail"]
    assert {found[n]["status"] for n in ("authenticated", "completion", "stream")} == {"skip"}


def test_slow_provider_times_out_and_a_sluggish_one_reports_its_latency(upstreams) -> None:
    result = llmp_test("slow", "sluggish", "--timeout", "1", "--json")
    assert result.code == 1
    slow = checks(result, "slow")
    assert slow["completion"]["status"] == "fail"
    assert slow["completion"]["error_kind"] == "timeout"
    assert slow["completion"]["detail"] == "no answer within 1s"
    assert slow["stream"]["status"] == "fail"
    sluggish = checks(result, "sluggish")
    assert {c["status"] for c in sluggish.values()} == {"ok"}
    assert sluggish["completion"]["latency_ms"] >= 300
    assert sluggish["stream"]["latency_ms"] >= 300  # the first token waits for the delay
    assert sluggish["embeddings"]["detail"] == "mock-embed"


def test_missing_key_fails_the_key_check(upstreams) -> None:
    result = llmp_test("nokey", "--json")
    assert result.code == 1
    found = checks(result, "nokey")
    assert found["key"]["status"] == "fail"
    assert found["key"]["detail"] == ("no API key for provider 'nokey': set "
                                      "UNSET_VARIABLE_FOR_LLMP_TEST or run `llmp keys set nokey`")
    assert {found[name]["status"] for name in ("reachable", "completion")} == {"skip"}


def test_every_provider_by_default(upstreams) -> None:
    result = llmp_test("--json", "--timeout", "1")
    assert result.code == 1
    data = json.loads(result.out)
    assert [p["provider"] for p in data["providers"]] == [
        "fake", "badkey", "down", "slow", "sluggish", "nokey", "nolist", "keyed"]
    assert [p["ok"] for p in data["providers"]] == [True, False, False, False, True, False, True, True]


def test_model_option_picks_provider_and_model(upstreams) -> None:
    healthy, _, _ = upstreams
    result = llmp_test("--model", "fake/gpt-other", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert [(p["provider"], p["model"]) for p in data["providers"]] == [("fake", "gpt-other")]
    models = {r.json["model"] for r in healthy.requests if r.path == "/v1/chat/completions"}
    assert models == {"gpt-other"}


@pytest.mark.parametrize(("args", "message"), [
    (("nosuch",), "error: unknown provider 'nosuch' (configured: fake, badkey, down, slow, "
                  "sluggish, nokey, nolist, keyed)"),
    (("--direct", "nosuch"), "error: unknown provider 'nosuch'"),
    (("fake", "--model", "sluggish/mock-1"), "error: --model sluggish/mock-1 names provider "
                                              "'sluggish', which is not among"),
])
def test_bad_selection_is_one_line(upstreams, args: tuple[str, ...], message: str) -> None:
    result = llmp_test(*args)
    assert result.code == 1
    assert result.err.startswith(message) and len(result.err.strip().splitlines()) == 1


def test_direct_does_not_need_the_daemon_and_test_starts_it(isolated_env: Path) -> None:
    write_config(isolated_env, "  mock:\n    type: mock\n    models: [mock-1]\n")
    direct = llmp_test("--direct", "--json")
    assert direct.code == 0, direct.err
    assert not (isolated_env / "daemon.json").exists()
    assert "starting" not in direct.err
    try:
        through = llmp_test("--json")
        assert through.code == 0, through.err
        assert "llmp is not running; starting it" in through.err
        assert (isolated_env / "daemon.json").exists()
        assert statuses(through, "mock") == statuses(direct, "mock") == {
            "key": "ok", "reachable": "ok", "authenticated": "ok", "completion": "ok",
            "stream": "ok", "embeddings": "ok"}
        assert checks(direct, "mock")["embeddings"]["detail"] == "mock-1"
    finally:
        run_llmp("stop")


@pytest.mark.parametrize("direct", [False, True], ids=["daemon", "direct"])
def test_without_a_model_list_the_completion_decides_authentication(upstreams,
                                                                     direct: bool) -> None:
    flag = ["--direct"] if direct else []
    accepted = llmp_test("nolist", "--json", *flag)
    assert accepted.code == 0, accepted.err
    found = checks(accepted, "nolist")
    assert found["reachable"]["status"] == "ok"
    assert found["authenticated"] == {**found["authenticated"], "status": "ok",
                                      "detail": "the completion was accepted"}
    _, _, unlisted = upstreams
    unlisted.always(without_model_list(fail(401, REFUSAL)))
    refused = llmp_test("nolist", "--json", *flag)
    assert refused.code == 1
    assert statuses(refused, "nolist")["authenticated"] == "fail"
    assert checks(refused, "nolist")["authenticated"]["detail"] == (
        "Incorrect API key provided: sk-…WXYZ.")


def test_direct_tells_a_proxy_problem_from_a_provider_problem(isolated_env: Path,
                                                              upstream: FakeUpstream,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The daemon was started before the key was exported: only the daemon lacks it."""
    good_key = "sk-good-0123456789abcdefKEY1"

    async def keyed(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {good_key}":
            return await fail(401, REFUSAL)(request)
        return await openai_server()(request)

    upstream.always(keyed)
    write_config(isolated_env, f"  keyed:\n    type: openai\n    base_url: {upstream.url}/v1\n"
                               "    api_key: env:KEYED_VALUE\n    models: [gpt-fake]\n")
    with running_daemon(isolated_env):
        monkeypatch.setenv("KEYED_VALUE", good_key)
        through = llmp_test("--json")
        direct = llmp_test("--json", "--direct")
    assert through.code == 1 and statuses(through, "keyed")["key"] == "fail"
    assert statuses(through, "keyed")["authenticated"] == "skip"  # never asked without a key
    assert direct.code == 0, direct.err
    assert set(statuses(direct, "keyed").values()) == {"ok"}


def test_keys_test_and_llmp_test_agree(upstreams) -> None:
    """The same checks decide a key: a keyed provider without a models listing passes both."""
    tested = llmp_test("badkey", "nokey", "keyed", "--json")
    keys = run_llmp("keys", "test", "--json")
    results = {r["provider"]: r for r in json.loads(keys.out)["results"]}
    assert {name: results[name]["result"] for name in ("badkey", "nokey", "keyed")} == {
        "badkey": "invalid", "nokey": "no_key", "keyed": "valid"}
    for name in ("badkey", "nokey", "keyed"):
        found = statuses(tested, name)
        key_ok = all(found[check] != "fail" for check in ("key", "reachable", "authenticated"))
        assert key_ok == (results[name]["result"] == "valid"), name
    assert results["nokey"]["detail"] == checks(tested, "nokey")["key"]["detail"]
