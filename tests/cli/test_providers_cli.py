"""`llmp providers` through Typer's runner, against a gateway the state file points at.

The gateway is the daemon's own app served in this process; the state file
names this process's pid, so the CLI finds it exactly as it finds a daemon.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from llmp.cli.app import app
from llmp.core.paths import resolve_paths
from llmp.core.state import DaemonState, process_create_time, write_state
from llmp.daemon.routing import lanes as lanes_module
from llmp.daemon.routing import stats as stats_module
from tests.daemon.routing_support import MODEL, healthy, two_providers, wait_until
from tests.support.clock import ManualClock
from tests.support.fake_upstream import fail
from tests.support.gateway import TEST_TOKEN, Gateway

runner = CliRunner()


def point_cli_at(gateway: Gateway) -> None:
    pid = os.getpid()
    created = process_create_time(pid)
    assert created is not None
    write_state(resolve_paths().state_file, DaemonState(
        pid=pid, create_time=created, host="127.0.0.1", port=gateway.server.port,
        token=TEST_TOKEN, version="test", started_at=time.time()))


@pytest.fixture
def pair(make_gateway, make_upstream):
    bad, good = make_upstream().always(fail(500)), make_upstream().always(healthy())
    clock = ManualClock()
    defaults = "retry: {attempts: 0}\ncircuit_breaker: {failure_threshold: 1, recovery_time: 30}"
    gateway = make_gateway(two_providers(bad.url, good.url, defaults=defaults),
                           clock=clock, sleeper=clock.skip)
    point_cli_at(gateway)
    wait_until(lambda: all(entry["last_checked"] for entry in httpx.get(  # both reached at start
        gateway.url + "/admin/providers/health", headers=gateway.admin_headers()).json()["providers"]))
    return gateway, bad, good


def ask(gateway: Gateway) -> str:
    return httpx.post(gateway.base_url + "/chat/completions", json={
        "model": "smart", "messages": [{"role": "user", "content": "x"}]}).headers["x-llmp-provider"]


def test_list_without_daemon_reads_config_and_never_prints_keys(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (isolated_env / "config.yaml").write_text("""
providers:
  openai:
    models: [gpt-4o]
  local:
    type: openai
    base_url: http://127.0.0.1:1234/v1
    api_key: env:LOCAL_KEY
""")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-value-123456789")
    result = runner.invoke(app, ["providers", "--json"])
    assert result.exit_code == 0, result.output
    listing = {p["name"]: p for p in json.loads(result.output)["providers"]}
    assert listing["openai"]["key_source"] == "environment" and listing["openai"]["key_present"]
    assert listing["openai"]["base_url"] == "https://api.openai.com/v1"
    assert listing["local"]["key_present"] is False
    table = runner.invoke(app, ["providers"])
    assert table.exit_code == 0
    assert "env OPENAI_API_KEY" in table.output and "missing" in table.output
    assert "sk-test-secret" not in table.output + result.output


def test_health_json_and_table(pair) -> None:
    gateway, _bad, _ = pair
    assert ask(gateway) == "good"
    result = runner.invoke(app, ["providers", "health", "--json"])
    assert result.exit_code == 0, result.output
    report = {p["name"]: p for p in json.loads(result.output)["providers"]}
    # one model failing opens its own circuit; the provider's stays closed (degraded, not down)
    assert report["bad"]["state"] == "degraded"
    assert report["bad"]["circuit"] == {"state": "closed"}
    assert report["bad"]["deployments"][0]["circuit"] == {"state": "open", "next_probe_in": 30.0}
    assert report["good"]["state"] == "healthy"
    assert report["good"]["deployments"][0]["model"] == MODEL
    assert report["good"]["latency_p50"] is not None
    table = runner.invoke(app, ["providers", "health"], env={"COLUMNS": "200"})
    assert table.exit_code == 0
    rows = [re.split(r"\s{2,}", line.strip()) for line in table.output.splitlines() if line.strip()]
    assert rows[0] == ["provider", "state", "circuit", "p50", "p95", "ttft", "errors", "reqs",
                       "checked", "last error"]
    assert rows[1][:8] + rows[1][9:] == ["bad", "degraded", "closed", "-", "-", "-", "100%", "1",
                                         "fake upstream failure 500"]
    assert rows[1][8].endswith("s ago")  # reached at start
    assert rows[2][:3] == [MODEL, "down", "open 30s"]  # the deployment, under its provider
    assert rows[3][:2] == ["good", "healthy"] and rows[3][3].endswith(" ms")
    assert rows[3][6:8] == ["0%", "1"]


def test_health_check_probes_now(pair) -> None:
    _gateway, bad, good = pair
    result = runner.invoke(app, ["providers", "health", "--check", "--json"])
    assert result.exit_code == 0, result.output
    assert good.count("/models") == 1 and bad.count("/models") == 1
    report = {p["name"]: p for p in json.loads(result.output)["providers"]}
    assert report["good"]["last_check_ok"] is True
    assert report["bad"]["last_check_ok"] is False
    assert report["bad"]["state"] == "down"


def test_health_check_probes_an_open_circuit_now(pair) -> None:
    """`--check` is a person asking: it probes at once, without waiting out the recovery time
    (the clock never moves here), and a failed check does not lengthen that time."""
    gateway, bad, _good = pair
    assert ask(gateway) == "good"

    def checked() -> dict:
        result = runner.invoke(app, ["providers", "health", "--check", "--json"])
        assert result.exit_code == 0, result.output
        return {p["name"]: p for p in json.loads(result.output)["providers"]}["bad"]

    still_down = checked()
    assert bad.count("/models") == 1
    assert bad.count("/chat/completions") == 2  # the user's request, the open deployment's probe
    assert (still_down["last_check_ok"], still_down["circuit"]) == (
        False, {"state": "open", "next_probe_in": 30.0})
    bad.always(healthy())
    back = checked()
    assert bad.count("/models") == 2
    assert bad.count("/chat/completions") == 3
    assert (back["last_check_ok"], back["circuit"]) == (True, {"state": "closed"})
    assert back["state"] == "degraded"  # closed, but its one request of the last 5 minutes failed
    assert back["deployments"][0]["circuit"] == {"state": "closed"}
    assert ask(gateway) == "bad"


def test_health_watch_refreshes_until_interrupted(pair, monkeypatch: pytest.MonkeyPatch) -> None:
    import llmp.cli.providers as providers_cli

    ticks = []

    def tick(seconds: float) -> None:
        ticks.append(seconds)
        if len(ticks) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(providers_cli.time, "sleep", tick)
    result = runner.invoke(app, ["providers", "health", "--watch", "--every", "0.5"])
    assert result.exit_code == 0, result.output
    assert ticks == [0.5, 0.5]
    assert "good" in result.output


def test_disable_and_enable_take_a_provider_out_of_rotation(pair) -> None:
    gateway, bad, _good = pair
    bad.always(healthy())
    assert ask(gateway) == "bad"
    result = runner.invoke(app, ["providers", "disable", "bad"])
    assert result.exit_code == 0, result.output
    assert [ask(gateway) for _ in range(3)] == ["good"] * 3
    listing = json.loads(runner.invoke(app, ["providers", "--json"]).output)["providers"]
    assert {p["name"]: p["enabled"] for p in listing} == {"bad": False, "good": True}
    assert runner.invoke(app, ["providers", "enable", "bad"]).exit_code == 0
    assert ask(gateway) == "bad"
    unknown = runner.invoke(app, ["providers", "disable", "nosuch"])
    assert unknown.exit_code == 1
    assert "no provider named 'nosuch'" in unknown.output


def test_admin_routes_need_the_token(pair) -> None:
    gateway, _, _ = pair
    for method, path in (("GET", "/admin/providers/health"), ("POST", "/admin/providers/bad/disable")):
        assert httpx.request(method, gateway.url + path).status_code == 401
    assert gateway.runtime.router.disabled == set()


def test_health_needs_a_running_daemon() -> None:
    result = runner.invoke(app, ["providers", "health"])
    assert result.exit_code == 1
    assert "not running" in result.output


def test_a_providers_figures_add_up_its_deployments(make_gateway) -> None:
    """Traffic is counted per deployment; the provider's row is their sum."""
    gateway = make_gateway("providers:\n  mock: {type: mock, models: [mock-1, mock-2]}\n"
                           "defaults:\n  retry: {attempts: 0}\n")
    point_cli_at(gateway)
    for model, extra in (("mock-1", {}), ("mock-1", {}), ("mock-2", {"mock": {"fail_status": 503}})):
        httpx.post(gateway.base_url + "/chat/completions",
                   json={"model": model, "messages": [{"role": "user", "content": "x"}], **extra})
    result = runner.invoke(app, ["providers", "health", "--json"])
    assert result.exit_code == 0, result.output
    [mock] = json.loads(result.output)["providers"]
    deployments = {d["model"]: d for d in mock["deployments"]}
    assert (deployments["mock-1"]["requests"], deployments["mock-2"]["requests"]) == (2, 1)
    assert (mock["requests"], mock["requests_5m"], mock["error_rate_5m"]) == (3, 3, round(1 / 3, 4))
    assert mock["last_error"] == deployments["mock-2"]["last_error"] is not None
    assert mock["latency_p50"] is not None and mock["in_flight"] == 0


def test_deployments_a_client_makes_up_are_forgotten_once_idle(
        make_gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each model name is a deployment with its own breaker and statistics; past a limit, the
    idle ones are dropped, so a client making names up cannot grow them without bound."""
    monkeypatch.setattr(lanes_module, "MAX_LANES", 3)
    gateway = make_gateway("providers:\n  mock: {type: mock, models: ['*']}\n")
    point_cli_at(gateway)
    client = gateway.openai()
    for i in range(7):
        answer = client.chat.completions.create(
            model=f"mock/made-up-{i}", messages=[{"role": "user", "content": "x"}])
        assert answer.choices[0].message.content
    result = runner.invoke(app, ["providers", "health", "--json"])
    assert result.exit_code == 0, result.output
    [mock] = json.loads(result.output)["providers"]
    models = [d["model"] for d in mock["deployments"]]
    assert len(models) <= 3 and "made-up-6" in models


def failing_names(gateway: Gateway, names: range) -> None:
    for i in names:
        response = httpx.post(gateway.base_url + "/chat/completions", json={
            "model": f"mock/failing-{i}", "messages": [{"role": "user", "content": "x"}],
            "mock": {"fail_status": 503}})
        assert response.status_code == 503


def listed_deployments() -> list[str]:
    result = runner.invoke(app, ["providers", "health", "--json"])
    assert result.exit_code == 0, result.output
    [mock] = json.loads(result.output)["providers"]
    return [d["model"] for d in mock["deployments"]]


def test_failing_deployments_are_bounded_too(make_gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployment that just failed has something to remember, yet a client making up failing
    names still cannot grow them past the bound: the least recently used one goes first."""
    monkeypatch.setattr(lanes_module, "MAX_LANES", 3)
    gateway = make_gateway("providers:\n  mock: {type: mock, models: ['*']}\n"
                           "defaults:\n  retry: {attempts: 0}\n"
                           "  circuit_breaker: {failure_threshold: 1000}\n")
    point_cli_at(gateway)
    failing_names(gateway, range(8))
    models = listed_deployments()
    assert len(models) <= 3 and "failing-7" in models


def test_a_failed_deployment_expires_once_its_window_has_passed(
        make_gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its failures fall out of the circuit's window: from then on it is like a fresh one, and
    a new name takes its place rather than wait for it to be used again."""
    monkeypatch.setattr(lanes_module, "MAX_LANES", 100)
    clock = ManualClock()
    gateway = make_gateway("providers:\n  mock: {type: mock, models: ['*']}\n"
                           "defaults:\n  retry: {attempts: 0}\n"
                           "  circuit_breaker: {failure_threshold: 1000, window: 60}\n",
                           clock=clock, sleeper=clock.skip)
    point_cli_at(gateway)
    failing_names(gateway, range(5))
    clock.advance(301)  # past the circuit's window, and the five minutes `providers health` shows
    failing_names(gateway, range(5, 6))
    assert listed_deployments() == ["failing-5"]


def test_recent_counts_stay_exact_past_the_samples_kept(
        make_gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployment keeps its latest requests only for percentiles (a few hundred, however busy
    it is); its five-minute counts and error rate still count every request."""
    monkeypatch.setattr(stats_module, "MAX_SAMPLES", 3)
    gateway = make_gateway("providers:\n  mock: {type: mock, models: [mock-1]}\n"
                           "defaults:\n  retry: {attempts: 0}\n")
    point_cli_at(gateway)
    for extra in [{}] * 6 + [{"mock": {"fail_status": 503}}] * 2:
        httpx.post(gateway.base_url + "/chat/completions",
                   json={"model": "mock-1", "messages": [{"role": "user", "content": "x"}], **extra})
    result = runner.invoke(app, ["providers", "health", "--json"])
    assert result.exit_code == 0, result.output
    [mock] = json.loads(result.output)["providers"]
    [deployment] = mock["deployments"]
    assert (deployment["requests_5m"], deployment["error_rate_5m"]) == (8, 0.25)
    assert (mock["requests_5m"], mock["error_rate_5m"]) == (8, 0.25)
