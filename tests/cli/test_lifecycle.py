"""`llmp start / status / stop` as a user runs them: real processes, real state file."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import openai
import psutil
import pytest

from llmp.core.state import read_state
from tests.support.cli import run_llmp

pytestmark = pytest.mark.timeout(120)


def status_json() -> dict:
    result = run_llmp("status", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


@pytest.fixture
def started(isolated_env: Path):
    result = run_llmp("start", "--port", "0")
    assert result.code == 0, result.err + result.out
    yield read_state(isolated_env / "daemon.json")
    run_llmp("stop")


def test_start_request_status_stop(started, isolated_env: Path) -> None:
    state = started
    assert state is not None and state.port > 0
    # The daemon works out its own start (from /proc on Linux); the CLI checks it with psutil.
    assert abs(state.create_time - psutil.Process(state.pid).create_time()) < 0.05
    assert (isolated_env / "daemon.json").stat().st_mode & 0o777 == 0o600
    assert (isolated_env / "logs").stat().st_mode & 0o777 == 0o700  # prompts and errors: the user's
    client = openai.OpenAI(base_url=state.base_url + "/v1", api_key="x", max_retries=0)
    answer = client.chat.completions.create(
        model="mock-1", messages=[{"role": "user", "content": "hello daemon"}])
    assert answer.choices[0].message.content == "hello daemon"

    info = status_json()
    assert info["running"] is True
    assert info["pid"] == state.pid
    assert info["port"] == state.port
    assert info["requests"] == 1
    assert info["uptime_s"] >= 0
    assert "mock" in info["providers"]

    human = run_llmp("status")
    assert "running" in human.out and str(state.port) in human.out

    stopped = run_llmp("stop")
    assert stopped.code == 0 and "stopped" in stopped.out
    assert not psutil.pid_exists(state.pid) or psutil.Process(state.pid).status() == "zombie"
    assert not (isolated_env / "daemon.json").exists()
    assert status_json()["running"] is False


def test_double_start_says_already_running(started) -> None:
    again = run_llmp("start", "--port", "0")
    assert again.code == 0
    assert "already running" in again.out
    assert status_json()["pid"] == started.pid


def test_stop_and_status_when_not_running() -> None:
    result = run_llmp("stop")
    assert result.code == 0 and "not running" in result.out
    info = status_json()
    assert info == {**info, "running": False, "pid": None, "port": None}


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = run_llmp("start", "--port", str(port))
    assert result.code != 0
    assert f"port {port}" in result.err and "already in use" in result.err
    assert f"(pid {os.getpid()})" in result.err  # this test holds the port: psutil can see it
    for way in ("llmp start --port N", "server.port", "LLMP_PORT"):
        assert way in result.err
    assert "Traceback" not in result.err


def test_sigkill_leaves_stale_state_that_status_and_start_recover(
    started, isolated_env: Path
) -> None:
    os.kill(started.pid, signal.SIGKILL)
    psutil.Process(started.pid).wait(10) if psutil.pid_exists(started.pid) else None
    assert (isolated_env / "daemon.json").exists()
    assert status_json()["running"] is False
    assert not (isolated_env / "daemon.json").exists()
    os.kill(os.getpid(), 0)
    result = run_llmp("start", "--port", "0")
    assert result.code == 0, result.err
    assert status_json()["running"] is True


def test_reused_pid_is_detected_as_stale(isolated_env: Path) -> None:
    me = psutil.Process()
    (isolated_env / "daemon.json").write_text(json.dumps({
        "pid": me.pid, "create_time": me.create_time() - 1000, "host": "127.0.0.1",
        "port": 1, "token": "t", "version": "0", "started_at": time.time()}))
    assert status_json()["running"] is False
    assert not (isolated_env / "daemon.json").exists()


def test_bad_config_fails_start_with_line_number(isolated_env: Path) -> None:
    (isolated_env / "config.yaml").write_text("server:\n  prot: 8484\n")
    result = run_llmp("start")
    assert result.code != 0
    assert "config.yaml:2" in result.err and "did you mean 'port'" in result.err


def test_logs_shows_daemon_log(started) -> None:
    result = run_llmp("logs", "-n", "5")
    assert result.code == 0
    assert "listening on" in result.out


def test_exited_but_unreaped_daemon_is_not_running(isolated_env: Path) -> None:
    """A foreground daemon whose parent has not reaped it yet is a zombie: not running."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    try:
        (isolated_env / "daemon.json").write_text(json.dumps({
            "pid": child.pid, "create_time": psutil.Process(child.pid).create_time(),
            "host": "127.0.0.1", "port": 1, "token": "t", "version": "0",
            "started_at": time.time()}))
        assert status_json()["running"] is False
        stopped = run_llmp("stop")
        assert stopped.code == 0 and "not running" in stopped.out
    finally:
        child.wait()


@pytest.mark.parametrize(("handles_sigterm", "ended_by"), [(True, -signal.SIGTERM), (False, -signal.SIGKILL)],
                         ids=["sigterm", "kill"])
def test_stop_signals_a_daemon_that_does_not_answer_then_kills_it(
        isolated_env: Path, handles_sigterm: bool, ended_by: int) -> None:
    """A hung daemon (its admin port deaf) gets SIGTERM at once, and SIGKILL when that is ignored."""
    import subprocess
    import sys
    import threading

    ignore = "" if handles_sigterm else "signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    hung = subprocess.Popen([sys.executable, "-c", f"import signal, time; {ignore}"
                             "print('ready', flush=True); time.sleep(120)"],
                            stdout=subprocess.PIPE, text=True)
    assert hung.stdout is not None and hung.stdout.readline() == "ready\n"  # its SIGTERM handling is set
    reaper = threading.Thread(target=hung.wait)  # reaped as soon as it ends, as a daemon's init would
    reaper.start()
    try:
        (isolated_env / "daemon.json").write_text(json.dumps({
            "pid": hung.pid, "create_time": psutil.Process(hung.pid).create_time(), "host": "127.0.0.1",
            "port": 9, "token": "t", "version": "0", "started_at": time.time()}))
        began = time.monotonic()
        result = run_llmp("stop", "--timeout", "1")
        assert result.code == 0 and "stopped" in result.out, result.err
        reaper.join(10)
        assert hung.returncode == ended_by
        assert time.monotonic() - began < 10
        assert not (isolated_env / "daemon.json").exists()
    finally:
        hung.kill()
        reaper.join(10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_start_takes_the_flag_over_the_environment_over_the_config_file(
        isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    in_file, in_env, on_command_line = _free_port(), _free_port(), _free_port()
    config = tmp_path / "elsewhere.yaml"  # found through LLMP_CONFIG, not the config dir
    config.write_text(f"server:\n  port: {in_file}\nproviders:\n  only-me: {{type: mock}}\n")
    monkeypatch.setenv("LLMP_CONFIG", str(config))
    monkeypatch.setenv("LLMP_PORT", str(in_env))
    for args, expected in ((["--port", str(on_command_line)], on_command_line), ([], in_env)):
        assert run_llmp("start", *args).code == 0
        info = status_json()
        assert (info["port"], info["providers"], info["config_file"]) == (expected, ["only-me"], str(config))
        run_llmp("stop")
    monkeypatch.delenv("LLMP_PORT")
    assert run_llmp("start").code == 0
    assert status_json()["port"] == in_file
    run_llmp("stop")


def test_stopped_status_json_has_every_documented_field(isolated_env: Path) -> None:
    result = run_llmp("status", "--json")
    assert result.code == 0, result.err
    info = json.loads(result.out)
    assert info["running"] is False
    for field in ("pid", "host", "port", "uptime_s", "requests", "in_flight", "config_file",
                  "reloaded_at", "retiring_providers"):
        assert field in info and info[field] is None, field
    assert info["providers"] == [] and info["version"]
