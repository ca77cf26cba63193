"""A cap on client connections: past `server.limits.max_connections` a new connection gets a
short 503 in the OpenAI error shape and is closed, and the daemon says so at most once a second."""

from __future__ import annotations

import json
import math
import resource
import socket
import time
from pathlib import Path

import httpx

from llmp.core.paths import resolve_paths
from tests.support.daemon_process import running_daemon

MOCK = "  mock: {type: mock, models: [mock-1]}\n"


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def answer_to_a_new_connection(port: int) -> bytes:
    """What the daemon sends a connection that asks for /healthz, up to its closing."""
    with connect(port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def refusals_logged() -> int:
    log_file = resolve_paths().log_file
    return log_file.read_text().count("max_connections") if log_file.exists() else 0


def test_connections_past_the_cap_are_refused_and_said_once_a_second(isolated_env: Path) -> None:
    (isolated_env / "config.yaml").write_text(
        "server:\n  port: 0\n  limits: {max_connections: 4}\nproviders:\n" + MOCK)
    with running_daemon(isolated_env) as state:
        held = [connect(state.port) for _ in range(4)]
        try:
            time.sleep(0.5)  # the daemon has accepted them: each is a connection of its own
            started = time.monotonic()
            refused = [answer_to_a_new_connection(state.port) for _ in range(30)]
            elapsed = time.monotonic() - started
            for answer in refused:
                head, _, body = answer.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 503"), answer
                error = json.loads(body)["error"]
                assert error["code"] == "too_many_connections"
                assert "server.limits.max_connections" in error["message"]
        finally:
            for sock in held:
                sock.close()
        deadline = time.monotonic() + 10
        while True:  # the held ones are closed: the daemon serves again
            try:
                if httpx.get(f"http://127.0.0.1:{state.port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "never served again"
            time.sleep(0.1)
    assert 1 <= refusals_logged() <= math.ceil(elapsed) + 1


def test_the_daemon_raises_its_descriptor_limit_to_the_hard_limit(isolated_env: Path) -> None:
    """Started with a low soft limit (macOS starts processes at 256), the daemon raises it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))  # inherited by the daemon
    try:
        (isolated_env / "config.yaml").write_text("server:\n  port: 0\nproviders:\n" + MOCK)
        with running_daemon(isolated_env) as state:
            limits = Path(f"/proc/{state.pid}/limits").read_text()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    [line] = [line for line in limits.splitlines() if line.startswith("Max open files")]
    assert line.split()[3:5] == [str(hard), str(hard)]
