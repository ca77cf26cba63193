"""What telemetry promises under load and on a crash: a line and a row per request, in order,
nothing lost in a burst, at most the last half second lost to `kill -9`; a ledger that cannot
be written costs rows (counted, said once), never requests, and is written again by itself."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from llmp.core.state import DaemonState
from tests.daemon.telemetry.test_ledger import rows
from tests.support.cli import run_llmp
from tests.support.daemon_process import running_daemon, write_config

pytestmark = pytest.mark.timeout(300)
MOCK = "  mock: {type: mock, models: [mock-1]}\n"
BODY = {"model": "mock-1", "messages": [{"role": "user", "content": "hi"}]}


def _send(state: DaemonState, ids: list[str]) -> None:
    """One request per id, one after another, each carrying its id as `x-request-id`."""
    with httpx.Client(base_url=state.base_url + "/v1", timeout=60) as client:
        for request_id in ids:
            response = client.post("/chat/completions", json=BODY, headers={"x-request-id": request_id})
            assert response.status_code == 200, response.text


def _access_lines(home: Path) -> list[dict]:
    lines = []
    for path in sorted((home / "logs").glob("llmp.log*"), reverse=True):  # the oldest file first
        lines += [json.loads(text) for text in path.read_text("utf-8").splitlines() if text]
    return [line for line in lines if line["logger"] == "llmp.access"]


def _dropped(state: DaemonState) -> dict[str, float]:
    text = httpx.get(state.base_url + "/metrics").text
    return {sink: float(count) for sink, count in
            re.findall(r'^llmp_telemetry_dropped_total\{sink="(\w+)"\} (\S+)$', text, re.M)}


def test_a_burst_of_ten_thousand_requests_leaves_every_line_and_row_in_order(isolated_env: Path) -> None:
    write_config(isolated_env, MOCK)
    clients = [[f"c{client}-{n:05d}" for n in range(2_500)] for client in range(4)]
    with running_daemon(isolated_env) as state:
        threads = [threading.Thread(target=_send, args=(state, ids)) for ids in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert set(_dropped(state).values()) == {0.0}
        assert run_llmp("stop").code == 0  # writes out whatever is still queued
    lines, written = _access_lines(isolated_env), rows(isolated_env)
    order = [line["request_id"] for line in lines]
    assert order == [row["request_id"] for row in written]  # the same requests, in the same order
    assert sorted(order) == sorted(request_id for ids in clients for request_id in ids)
    for ids in clients:  # each client's requests one after another: they finished in that order
        assert [request_id for request_id in order if request_id.startswith(ids[0][:3])] == ids
    for line, row in zip(lines, written, strict=True):
        assert (line["status"], line["provider"], line["model"], line["requested_model"]) == (
            row["status"], row["provider"], row["model"], row["requested_model"]) == (
            200, "mock", "mock-1", "mock-1")
        assert (line["tokens_in"], line["tokens_out"], line["attempts"], line["streamed"]) == (
            row["tokens_in"], row["tokens_out"], row["attempts"], bool(row["streamed"]))
        assert line["latency_ms"] == pytest.approx(row["latency_ms"], abs=0.01)


def test_kill_9_loses_at_most_the_last_half_second(isolated_env: Path) -> None:
    write_config(isolated_env, MOCK)
    ids = [f"before-kill-{n:03d}" for n in range(300)]
    with running_daemon(isolated_env) as state:
        _send(state, ids)
        time.sleep(0.5)
        os.kill(state.pid, signal.SIGKILL)
    assert [line["request_id"] for line in _access_lines(isolated_env)] == ids
    assert [row["request_id"] for row in rows(isolated_env)] == ids


def test_a_ledger_that_cannot_be_opened_costs_rows_and_is_written_again(isolated_env: Path) -> None:
    write_config(isolated_env, MOCK)
    ledger = isolated_env / "usage.sqlite3"
    ledger.mkdir()  # not a file SQLite can open, as a read-only or vanished folder would be
    with running_daemon(isolated_env) as state:
        _send(state, [f"lost-{n}" for n in range(5)])
        deadline = time.monotonic() + 20
        while _dropped(state).get("ledger", 0) < 5:
            assert time.monotonic() < deadline, "the lost rows were never counted"
            time.sleep(0.05)
        status = run_llmp("status")
        assert "ledger failing (cannot open usage.sqlite3" in status.out, status.out

        ledger.rmdir()  # the file can be made again: the ledger is written again, by itself
        _send(state, ["kept"])
        deadline = time.monotonic() + 20
        while "ledger writing again" not in run_llmp("status").out:
            assert time.monotonic() < deadline, "the ledger was never written again"
            time.sleep(0.05)
        assert run_llmp("stop").code == 0
    assert [row["request_id"] for row in rows(isolated_env)] == ["kept"]
    out = (isolated_env / "logs" / "daemon.out").read_text()
    assert out.count("the ledger cannot be written (cannot open usage.sqlite3") == 1, out
    assert out.count("the ledger is written again") == 1, out
