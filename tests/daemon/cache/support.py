"""Configs and helpers for the response cache's tests."""

from __future__ import annotations

import json
from typing import Any

from llmp.daemon.cache.replay.events import parse_events
from tests.support.gateway import Gateway

OPENAI_MODEL = "up/gpt-4o-mini"
CLAUDE = "claude/claude-sonnet-4-5-20250929"


def openai_upstream(url: str, cache: str = "cache: {enabled: true}", extra: str = "") -> str:
    return f"""
{cache}
providers:
  up:
    type: openai
    base_url: {url}/v1
    api_key: sk-test-upstream-key-123456
    models: [gpt-4o-mini, text-embedding-3-small, gpt-3.5-turbo-instruct]
    health_check: {{enabled: false}}
    retry: {{attempts: 0}}
{extra}
"""


def anthropic_upstream(url: str, cache: str = "cache: {enabled: true}") -> str:
    return f"""
{cache}
providers:
  claude:
    type: anthropic
    base_url: {url}
    api_key: sk-ant-test-upstream-key-123456
    models: [claude-sonnet-4-5-20250929]
    health_check: {{enabled: false}}
    retry: {{attempts: 0}}
"""


def settled(gateway: Gateway) -> None:
    """Every request recorded and every answer the cache was given written (or refused)."""
    gateway.wait_idle()
    cache = gateway.runtime.cache
    assert cache is not None
    assert cache.store.flush()


def entries(gateway: Gateway) -> int:
    settled(gateway)
    cache = gateway.runtime.cache
    assert cache is not None
    return int(cache.store.stats()["entries"])


def sse(raw: bytes | str) -> list[tuple[str | None, Any]]:
    """A stream as (event name, decoded data) pairs, `[DONE]` kept as the string."""
    data = raw.encode() if isinstance(raw, str) else raw
    return [(e.event, e.data.decode() if e.data == b"[DONE]" else json.loads(e.data))
            for e in parse_events(data)]


def shape(events: list[tuple[str | None, Any]]) -> list[str]:
    """An event sequence by kind, runs of the same delta kind counted once (an upstream splits
    text into as many deltas as it likes; a replay sends it whole)."""
    kinds: list[str] = []
    for name, data in events:
        if isinstance(data, str):
            kind = data
        elif name:
            delta = data.get("delta") if isinstance(data.get("delta"), dict) else {}
            kind = name + (":" + delta["type"] if name == "content_block_delta" else "")
        elif data.get("object") == "" or not (data.get("choices") or data.get("usage")):
            continue  # Azure's content-filter annotations, before and after the answer
        else:
            choice = (data.get("choices") or [{}])[0]
            delta = choice.get("delta") or {}
            kind = ("usage" if not data.get("choices") else
                    "finish" if choice.get("finish_reason") else
                    "role" if "role" in delta else "tool_calls" if "tool_calls" in delta else "content")
        if not kinds or kinds[-1] != kind or kind == "content_block_start":
            kinds.append(kind)
    return kinds
