"""Shared pieces of the routing tests: configs with a failing and a healthy provider."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.support.fake_upstream import Behaviour, reply, sse_json, stream

MODEL = "gpt-4o-mini"

COMPLETION = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": MODEL,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "fine"},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}
MODELS_LIST = {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 1,
                                           "owned_by": "x"}]}


def chunk(delta: dict, finish: str | None = None) -> dict:
    return {"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1700000000,
            "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}


STREAM_EVENTS = sse_json([chunk({"role": "assistant", "content": ""}), chunk({"content": "fine"}),
                          chunk({}, "stop")])


def healthy() -> Behaviour:
    """A working OpenAI upstream: models list, chat (streamed when asked)."""

    async def behaviour(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/models"):
            return await reply(MODELS_LIST)(request)
        body = await request.json()
        if body.get("stream"):
            return await stream(STREAM_EVENTS)(request)
        return await reply(COMPLETION)(request)

    return behaviour


def provider_yaml(name: str, url: str, extra: str = "") -> str:
    lines = [f"  {name}:", "    type: openai", f"    base_url: {url}/v1", "    api_key: none",
             f"    models: [{MODEL}]"]
    lines.extend("    " + line for line in extra.strip().splitlines() if line.strip())
    return "\n".join(lines) + "\n"


def two_providers(bad: str, good: str, *, defaults: str = "", bad_extra: str = "",
                  strategy: str = "fallback") -> str:
    return (
        "defaults:\n" + "".join(f"  {line}\n" for line in defaults.strip().splitlines())
        if defaults.strip() else ""
    ) + "providers:\n" + provider_yaml("bad", bad, bad_extra) + provider_yaml("good", good) + f"""
models:
  smart:
    strategy: {strategy}
    targets: [bad/{MODEL}, good/{MODEL}]
"""


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def on_request(action: Callable[[], None], then: Behaviour) -> Behaviour:
    """Run `action` (e.g. advance the test clock) when the request arrives, then answer."""

    async def behaviour(request: web.Request) -> web.StreamResponse:
        action()
        return await then(request)

    return behaviour


def ask(client: Any, model: str = "smart") -> str:
    """Send one chat request with the `openai` SDK; which provider served it."""
    answer = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "x"}])
    return str(answer.headers["x-llmp-provider"])


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for another thread to finish something (not for time to pass)."""
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.005)
