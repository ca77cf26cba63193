"""Requests llmp refuses itself, before any routing, leave the same trace as any other:
an access line with its error class, a count in `llmp_requests_total` (provider `none`),
a ledger row with its status, and `llmp logs --request ID` finds them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from llmp.core.state import read_state
from llmp.daemon.telemetry.hub import TELEMETRY
from tests.daemon.telemetry.test_metrics import scrape, value
from tests.support.cli import run_llmp
from tests.support.json_log import json_log

TEAM_KEY = "llmp-team-key-0123456789abcdef"
CONFIG = """
server:
  limits: {max_body_bytes: 4096}
  auth:
    keys:
      team: {key: env:TEAM_KEY, rpm: 2}
providers:
  mock: {type: mock, models: [mock-1]}
"""
CHAT = {"model": "mock-1", "messages": [{"role": "user", "content": "hi"}]}
KEY = {"Authorization": f"Bearer {TEAM_KEY}"}


def send(base: str, request_id: str, path: str = "/v1/chat/completions", *, body: object = CHAT,
         headers: dict[str, str] | None = None) -> int:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = httpx.post(base + path, content=content,
                        headers={"x-request-id": request_id, "Content-Type": "application/json",
                                 **(KEY if headers is None else headers)})
    assert answer.headers["x-request-id"] == request_id
    return answer.status_code


def test_refused_requests_are_logged_counted_and_in_the_ledger(
        make_gateway, monkeypatch: pytest.MonkeyPatch, isolated_env: Path, tmp_path: Path) -> None:
    monkeypatch.setenv("TEAM_KEY", TEAM_KEY)
    with json_log(tmp_path / "llmp.log") as log:
        gateway = make_gateway(CONFIG)
        url = gateway.url
        statuses = {
            "bad-json": send(url, "bad-json", body=b"{not json"),
            "no-messages": send(url, "no-messages", body={**CHAT, "messages": []}),
            "no-model": send(url, "no-model", body={**CHAT, "model": "nobody-serves-this"}),
            "no-key": send(url, "no-key", headers={}),
            "too-big": send(url, "too-big", body={**CHAT, "pad": "x" * 8000}),
            "anthropic-bad-json": send(url, "anthropic-bad-json", "/v1/messages", body=b"[1"),
            "embed-bad-json": send(url, "embed-bad-json", "/v1/embeddings", body=b"{"),
            "anthropic-no-route": send(url, "anthropic-no-route", "/v1/messages/batches"),
            "served": send(url, "served"),
            "limited": send(url, "limited"),  # rpm: 2, taken by no-model and served
        }
        assert statuses == {"bad-json": 400, "no-messages": 400, "no-model": 404, "no-key": 401,
                            "too-big": 413, "anthropic-bad-json": 400, "embed-bad-json": 400,
                            "anthropic-no-route": 404, "served": 200, "limited": 429}
        gateway.wait_idle()
        samples = scrape(url)
        assert gateway.server.app[TELEMETRY].flush()
        access = {r["request_id"]: r for r in log.records() if r["logger"] == "llmp.access"}

    refused = {name: status for name, status in statuses.items() if status != 200}
    assert value(samples, "llmp_requests_total", provider="none", model="none",
                 status_class="4xx") == len(refused)
    assert set(access) == set(statuses)
    for name, status in refused.items():
        assert (access[name]["status"], access[name]["provider"]) == (status, None)
    assert {name: access[name]["error_class"] for name in refused} == {
        "bad-json": "client_error", "no-messages": "client_error", "no-model": "not_found",
        "no-key": "unauthenticated", "too-big": "too_large", "anthropic-bad-json": "client_error",
        "embed-bad-json": "client_error", "anthropic-no-route": "not_found", "limited": "rate_limited"}
    # Each is traced as what its route serves, in the client's format; an unknown path as `other`.
    assert {name: (access[name]["inbound"], access[name]["operation"]) for name in refused} == {
        "bad-json": ("openai", "chat"), "no-messages": ("openai", "chat"),
        "no-model": ("openai", "chat"), "no-key": ("openai", "chat"), "too-big": ("openai", "chat"),
        "anthropic-bad-json": ("anthropic", "chat"), "embed-bad-json": ("openai", "embeddings"),
        "anthropic-no-route": ("anthropic", "other"), "limited": ("openai", "chat")}
    assert access["served"]["error_class"] is None

    db = sqlite3.connect(isolated_env / "usage.sqlite3")
    rows = dict(db.execute("SELECT request_id, status FROM requests").fetchall())
    db.close()
    assert rows == statuses


def test_llmp_logs_finds_a_refused_request(isolated_env: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("providers:\n  mock: {type: mock, models: [mock-1]}\n")
    assert run_llmp("start", "--port", "0", "--config", str(config)).code == 0
    try:
        state = read_state(isolated_env / "daemon.json")
        assert send(state.base_url, "garbled-one", body=b"{", headers={}) == 400
    finally:
        run_llmp("stop")  # the log writer flushes on the way out
    found = run_llmp("logs", "--request", "garbled-one")
    assert found.code == 0, found.err
    assert " 400 " in found.out and "[garbled-one]" in found.out
    assert run_llmp("logs", "--request", "never-sent").code == 1
    usage = run_llmp("usage", "--json", "--since", "1h")
    assert json.loads(usage.out)["total"]["requests"] == 1
