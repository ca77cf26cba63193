"""An upstream that repeats the key in any field of its error, or a truncated echo of it:
no client answer, stream event or log line carries it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support.cli import run_llmp
from tests.support.fake_upstream import fail, sse_json, stream

KEY = "team-key-Q7fT2mB9xL4kP8vN3zR6wY1cJ5hD0sGa"  # no well-known shape: only registration masks it
ECHOED = KEY[:-2]  # servers often echo a key cut short
CONFIG = """
providers:
  up: {{type: openai, base_url: "{url}/v1", api_key: "env:UP_KEY", models: [m1],
        retry: {{attempts: 0}}, health_check: {{enabled: false}}}}
"""


@pytest.fixture
def gateway(upstream, make_gateway, monkeypatch):
    monkeypatch.setenv("UP_KEY", KEY)
    return make_gateway(CONFIG.format(url=upstream.url))


def _chat(gateway, stream_: bool) -> httpx.Response:
    return httpx.post(gateway.base_url + "/chat/completions", timeout=30, json={
        "model": "up/m1", "stream": stream_, "messages": [{"role": "user", "content": "hi"}]})


@pytest.mark.parametrize("stream_", [False, True])
def test_every_error_field_is_masked(gateway, upstream, stream_: bool) -> None:
    upstream.always(fail(400, {"error": {"message": f"bad key {ECHOED}", "type": f"t {KEY}",
                                         "param": KEY, "code": f"{ECHOED}"}}))
    response = _chat(gateway, stream_)
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert KEY[:12] not in response.text, response.text
    assert "…" in error["param"] and "…" in error["message"]


def test_mid_stream_error_event_is_masked(gateway, upstream) -> None:
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m1",
             "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]}
    error = {"error": {"message": f"key {KEY} revoked", "type": KEY, "param": ECHOED, "code": None}}
    upstream.always(stream([*sse_json([chunk], done=False), f"data: {json.dumps(error)}\n\n",
                            "data: [DONE]\n\n"]))
    response = _chat(gateway, True)
    assert response.status_code == 200
    assert '"hi"' in response.text and "revoked" in response.text
    assert KEY[:12] not in response.text, response.text


def test_log_lines_hold_no_key_in_any_field(upstream, start_daemon, monkeypatch,
                                            isolated_env: Path) -> None:
    monkeypatch.setenv("UP_KEY", KEY)
    upstream.always(fail(500, {"error": {"message": "boom", "type": "server_error",
                                         "param": None, "code": ECHOED}}))
    state = start_daemon(CONFIG.format(url=upstream.url))
    response = httpx.post(state.base_url + "/v1/chat/completions", timeout=30, json={
        "model": "up/m1", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 500
    run_llmp("stop")  # the log is flushed and closed
    text = (isolated_env / "logs" / "llmp.log").read_text()
    assert '"failures":["up/m1: server_error (tea' in text  # the failure was logged, masked
    assert KEY[:12] not in text


# Echoes cut to any length from 12 characters on, in lists and objects as well as strings.
CUT = [KEY[:12], KEY[:13], KEY[:20], KEY[:-1]]


def _listed_echoes() -> dict:
    return {"error": {"message": f"invalid key {CUT[0]}", "type": [f"bad {CUT[1]}", CUT[2]],
                      "param": [[CUT[3]], {"key": CUT[0]}], "code": {"echo": [CUT[1]]}}}


@pytest.mark.parametrize("stream_", [False, True])
def test_key_cut_short_is_masked_in_list_and_object_fields(gateway, upstream, stream_: bool) -> None:
    upstream.always(fail(400, _listed_echoes()))
    response = _chat(gateway, stream_)
    assert response.status_code == 400
    assert KEY[:12] not in response.text, response.text
    assert "invalid key tea…" in response.json()["error"]["message"]


def test_key_cut_short_is_masked_for_anthropic_clients(gateway, upstream) -> None:
    upstream.always(fail(401, _listed_echoes()))
    response = httpx.post(gateway.url + "/v1/messages", timeout=30, json={
        "model": "up/m1", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 401
    assert response.json()["type"] == "error"
    assert KEY[:12] not in response.text, response.text


def test_log_lines_hold_no_key_cut_short_in_list_fields(upstream, start_daemon, monkeypatch,
                                                       isolated_env: Path) -> None:
    monkeypatch.setenv("UP_KEY", KEY)
    upstream.always(fail(500, _listed_echoes()))
    state = start_daemon(CONFIG.format(url=upstream.url))
    for path, body in (("/v1/chat/completions", {}), ("/v1/messages", {"max_tokens": 16})):
        response = httpx.post(state.base_url + path, timeout=30, json={
            "model": "up/m1", "messages": [{"role": "user", "content": "hi"}], **body})
        assert response.status_code == 500
        assert KEY[:12] not in response.text, response.text
    run_llmp("stop")  # the log is flushed and closed
    text = (isolated_env / "logs" / "llmp.log").read_text()
    assert "['tea…0sGa']" in text  # the echo in a list was logged, masked
    assert KEY[:12] not in text
    assert KEY[:12] not in run_llmp("logs", "-n", "1000").out
