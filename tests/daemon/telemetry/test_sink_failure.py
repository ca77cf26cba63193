"""A log file that cannot be written (a full disk) costs log lines, never the daemon: the lines
are dropped and counted, the failure is said once, and the log resumes by itself."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import httpx
import pytest

from llmp.core.state import read_state
from tests.support.cli import run_llmp

pytestmark = pytest.mark.timeout(120)
CONFIG = """
server: {port: 0}
providers:
  mock: {type: mock, models: [mock-1]}
"""


def _dropped(client: httpx.Client) -> float:
    found = re.search(r'^llmp_telemetry_dropped_total\{sink="log"\} (\S+)$',
                      client.get("/metrics").text, re.M)
    assert found, "no llmp_telemetry_dropped_total on /metrics"
    return float(found.group(1))


def _until(condition, what: str, timeout: float = 20.0) -> None:
    """Wait for the daemon's writer thread to have done something (it runs on its own)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)


def _chat(client: httpx.Client, n: int) -> None:
    for _ in range(n):
        response = client.post("/v1/chat/completions", json={
            "model": "mock-1", "messages": [{"role": "user", "content": "hi"}]})
        assert response.status_code == 200


def test_full_disk_drops_counts_says_once_and_resumes(isolated_env: Path) -> None:
    logs = isolated_env / "logs"
    logs.mkdir(mode=0o700)
    log_file = logs / "llmp.log"
    log_file.symlink_to("/dev/full")  # every write to it fails with ENOSPC, as on a full disk
    (isolated_env / "config.yaml").write_text(CONFIG)
    assert run_llmp("start").code == 0
    try:
        state = read_state(isolated_env / "daemon.json")
        assert state is not None
        with httpx.Client(base_url=state.base_url, timeout=30) as client:
            _chat(client, 20)
            _until(lambda: _dropped(client) >= 20, "the lost lines were counted")
            _chat(client, 20)  # the daemon serves on
            status = run_llmp("status")
            assert "log failing (No space left on device)" in status.out, status.out
            reported = json.loads(run_llmp("status", "--json").out)["telemetry"]
            assert reported["failing"] == {"log": "No space left on device"}

            log_file.unlink()  # space again: the writer opens the file anew by itself
            _until(lambda: (_chat(client, 1), log_file.is_file() and '"status":200' in
                            log_file.read_text())[1], "lines reached the log again")
            assert "log writing again" in run_llmp("status").out
            assert _dropped(client) >= 20
    finally:
        run_llmp("stop")
    out = (logs / "daemon.out").read_text()
    assert out.count("the log cannot be written (No space left on device)") == 1, out
    assert out.count("the log is written again") == 1, out
    assert "Traceback" not in out


def test_daemon_output_is_bounded(isolated_env: Path) -> None:
    """`daemon.out` never rotates by itself: a start moves a big one aside, keeping one."""
    logs = isolated_env / "logs"
    logs.mkdir(mode=0o700)
    (logs / "daemon.out").write_bytes(b"x" * (2 << 20))
    (isolated_env / "config.yaml").write_text(CONFIG)
    assert run_llmp("start").code == 0
    run_llmp("stop")
    assert (logs / "daemon.out.1").stat().st_size == 2 << 20
    assert os.path.getsize(logs / "daemon.out") < 1 << 20
