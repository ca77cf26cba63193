"""Telemetry of the real daemon process: a ledger that survives SIGKILL, the live dashboard, logs."""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest
from typer.testing import CliRunner

from llmp.cli.app import app
from llmp.core.state import read_state
from tests.support.cli import llmp_env, run_llmp

pytestmark = pytest.mark.timeout(120)
CHAT = {"model": "mock-1", "messages": [{"role": "user", "content": "one two three"}]}


@pytest.fixture
def daemon(isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LLMP_LOG_LEVEL", "debug")
    config = tmp_path / "config.yaml"
    config.write_text("providers:\n  mock: {type: mock, models: [mock-1]}\n")
    result = run_llmp("start", "--port", "0", "--config", str(config))
    assert result.code == 0, result.err + result.out
    yield read_state(isolated_env / "daemon.json")
    run_llmp("stop")


def test_sigkill_mid_traffic_leaves_a_readable_ledger(daemon, isolated_env: Path) -> None:
    completed: list[tuple[str, float]] = []
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(base_url=daemon.base_url, timeout=5) as client:
            number = 0
            while not stop.is_set():
                request_id = f"kill-{number}"
                number += 1
                try:
                    response = client.post("/v1/chat/completions", json=CHAT,
                                           headers={"x-request-id": request_id})
                except httpx.HTTPError:
                    return
                if response.status_code == 200:
                    completed.append((request_id, time.time()))

    sender = threading.Thread(target=traffic)
    sender.start()
    deadline = time.time() + 60
    while (len(completed) < 2 or completed[-1][1] - completed[0][1] < 2.5) and time.time() < deadline:
        sender.join(0.05)  # traffic keeps flowing while we wait for 2.5 s of it
    killed_at = time.time()
    os.kill(daemon.pid, signal.SIGKILL)
    psutil.Process(daemon.pid).wait(10) if psutil.pid_exists(daemon.pid) else None
    stop.set()
    sender.join(10)

    db = sqlite3.connect(isolated_env / "usage.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    stored = {row[0] for row in db.execute("SELECT request_id FROM requests")}
    must_survive = {rid for rid, at in completed if at < killed_at - 1.0}
    assert len(must_survive) > 10
    assert must_survive <= stored
    assert stored <= {rid for rid, _ in completed} | {f"kill-{len(completed)}"}
    tokens = db.execute("SELECT SUM(tokens_in), SUM(tokens_out) FROM requests").fetchone()
    assert tokens == (3 * len(stored), 3 * len(stored))  # the mock counts words as tokens
    db.close()

    report = run_llmp("usage", "--json", "--since", "1h")
    assert report.code == 0, report.err
    assert json.loads(report.out)["total"]["requests"] == len(stored)


def test_status_watch_draws_the_dashboard_and_leaves_on_ctrl_c(daemon, isolated_env: Path) -> None:
    client = httpx.Client(base_url=daemon.base_url)
    assert client.post("/v1/chat/completions", json=CHAT,
                       headers={"x-request-id": "watch-me"}).status_code == 200
    watcher = subprocess.Popen(
        [sys.executable, "-m", "llmp", "status", "--watch", "--interval", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**llmp_env(), "COLUMNS": "200"},
    )
    log_file = isolated_env / "logs" / "llmp.log"
    deadline = time.time() + 30
    while time.time() < deadline and log_file.read_text().count("GET /admin/stats") < 2:
        if watcher.poll() is not None:  # it should still be drawing
            pytest.fail(watcher.stderr.read())
        time.sleep(0.05)  # waiting for the watcher to poll the daemon twice, not for time to pass
    watcher.send_signal(signal.SIGINT)
    out, err = watcher.communicate(timeout=20)
    assert watcher.returncode == 0, err
    assert "Traceback" not in err
    for expected in ("req/s", "in flight", "p95", "mock", "closed", "watch-me", "mock-1", "200"):
        assert expected in out, expected


def test_llmp_logs_filters_by_request_and_level(daemon) -> None:
    with httpx.Client(base_url=daemon.base_url) as client:
        for request_id in ("first-one", "second-one"):
            client.post("/v1/chat/completions", json=CHAT, headers={"x-request-id": request_id})
    run_llmp("stop")  # the log writer flushes on the way out
    result = run_llmp("logs", "--request", "first-one", "--json")
    records = [json.loads(line) for line in result.out.splitlines()]
    assert [r["logger"] for r in records] == ["llmp.http", "llmp.access"]
    assert {r["request_id"] for r in records} == {"first-one"}
    readable = run_llmp("logs", "--request", "second-one")
    assert "chat mock-1 -> mock/mock-1 200" in readable.out and "[second-one]" in readable.out
    assert "first-one" not in readable.out
    info_only = run_llmp("logs", "--level", "info", "--json", "-n", "1000")
    levels = {json.loads(line)["level"] for line in info_only.out.splitlines()}
    assert "debug" not in levels and "info" in levels


def test_llmp_logs_rejects_an_unknown_level(isolated_env: Path) -> None:
    (isolated_env / "logs").mkdir()
    (isolated_env / "logs" / "llmp.log").write_text(
        '{"ts":"2026-01-01T00:00:00.000Z","level":"warning","logger":"x","msg":"careful"}\n'
        '{"ts":"2026-01-01T00:00:01.000Z","level":"error","logger":"x","msg":"broken"}\n'
        "a line that is not JSON\n")
    runner = CliRunner()
    assert runner.invoke(app, ["logs", "--level", "loud"]).exit_code == 1
    errors = runner.invoke(app, ["logs", "--level", "error"])
    assert errors.exit_code == 0
    assert "broken" in errors.output and "careful" not in errors.output


def test_foreground_console_shows_readable_access_lines(isolated_env: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("providers:\n  mock: {type: mock, models: [mock-1]}\n")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "llmp", "start", "--foreground", "--port", "0", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=llmp_env(),
    )
    try:
        assert daemon.stderr is not None
        first = daemon.stderr.readline()  # the daemon says where it listens once it does
        assert "listening on" in first, first
        state = read_state(isolated_env / "daemon.json")
        httpx.post(state.base_url + "/v1/chat/completions", json=CHAT,
                   headers={"x-request-id": "in-the-terminal"})
        daemon.send_signal(signal.SIGINT)  # Ctrl-C, as in a terminal
        _, rest = daemon.communicate(timeout=30)
        assert daemon.returncode == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
    access = [line for line in rest.splitlines() if "chat mock-1" in line]
    assert len(access) == 1
    assert "INFO" in access[0] and "-> mock/mock-1 200" in access[0]
    assert "3->3 tok" in access[0] and access[0].endswith("[in-the-terminal]")
    assert not access[0].lstrip().startswith("{")  # readable, not JSON


def test_llmp_logs_follow_keeps_up_across_rotations(isolated_env: Path, tmp_path: Path) -> None:
    """`llmp logs -f` prints each new line as it comes, from one file to the next as the log rotates."""
    config = tmp_path / "config.yaml"
    config.write_text("providers:\n  mock: {type: mock, models: [mock-1]}\n"
                      "logging: {level: info, max_bytes: 10000, backup_count: 2}\n")
    assert run_llmp("start", "--port", "0", "--config", str(config)).code == 0
    state = read_state(isolated_env / "daemon.json")
    follower = subprocess.Popen([sys.executable, "-m", "llmp", "logs", "-f", "-n", "1", "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=llmp_env())
    printed: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [printed.put(line) for line in follower.stdout or []])
    reader.start()
    try:
        json.loads(printed.get(timeout=20))  # the last line so far: it follows on from there
        seen: list[str] = []
        with httpx.Client(base_url=state.base_url) as client:
            # Each batch is less than a file's worth of access lines, and the next is sent once the
            # follower has shown this one: every rotation happens while it is watching.
            for batch in range(5):
                sent = [f"follow-{batch}-{n}" for n in range(12)]
                for request_id in sent:
                    client.post("/v1/chat/completions", json=CHAT, headers={"x-request-id": request_id})
                while not set(sent) <= set(seen):
                    record = json.loads(printed.get(timeout=20))
                    if record["logger"] == "llmp.access":
                        seen.append(record["request_id"])
        assert len(list((isolated_env / "logs").glob("llmp.log.*"))) == 2  # it did rotate
        assert seen == [f"follow-{b}-{n}" for b in range(5) for n in range(12)]  # each once, in order
        follower.send_signal(signal.SIGINT)
        assert follower.wait(20) == 0
        assert "Traceback" not in (follower.stderr.read() if follower.stderr else "")
    finally:
        if follower.poll() is None:
            follower.kill()
        reader.join(10)
        run_llmp("stop")


def test_llmp_logs_request_reaches_into_rotated_files(isolated_env: Path) -> None:
    logs = isolated_env / "logs"
    logs.mkdir()
    line = ('{{"ts":"2026-01-01T00:00:0{n}.000Z","level":"info","logger":"llmp.access",'
            '"msg":"{msg}","request_id":"{rid}"}}\n')
    (logs / "llmp.log.2").write_text(line.format(n=1, msg="oldest", rid="old-one"))
    (logs / "llmp.log.1").write_text(line.format(n=2, msg="older", rid="old-one")
                                     + line.format(n=3, msg="other", rid="another"))
    (logs / "llmp.log").write_text(line.format(n=4, msg="newest", rid="new-one"))
    result = run_llmp("logs", "--request", "old-one")
    assert result.code == 0, result.err
    assert [text.split()[2] for text in result.out.splitlines()] == ["oldest", "older"]
    assert [text.split()[2] for text in run_llmp("logs", "-n", "2").out.splitlines()] == ["other", "newest"]


def test_llmp_logs_for_an_unknown_request_says_so_and_fails(isolated_env: Path) -> None:
    (isolated_env / "logs").mkdir()
    (isolated_env / "logs" / "llmp.log").write_text(
        '{"ts":"2026-01-01T00:00:00.000Z","level":"info","logger":"llmp.access",'
        '"msg":"chat","request_id":"known-one"}\n')
    result = run_llmp("logs", "--request", "no-such-id")
    assert result.code == 1
    assert result.out == ""
    assert "no-such-id" in result.err and "no log line" in result.err
    assert run_llmp("logs", "--request", "known-one").code == 0
