"""Gateway config and upstream answers shared by the telemetry tests (OpenAI's real wire shapes)."""

from __future__ import annotations

import json

from tests.daemon.test_openai_sdk import openai_config

USAGE = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12,
         "prompt_tokens_details": {"cached_tokens": 4},
         "completion_tokens_details": {"reasoning_tokens": 0}}
# prices below: input 1.0, cached 0.5, output 2.0 dollars per million tokens
COST = ((9 - 4) * 1.0 + 4 * 0.5 + 3 * 2.0) / 1_000_000

COMPLETION = {
    "id": "chatcmpl-123", "object": "chat.completion", "created": 1700000000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Say \"usage\": {} please",
                                         "refusal": None},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": USAGE,
    "system_fingerprint": "fp_1",
}


def gateway_config(url: str, extra: str = "") -> str:
    return openai_config(url, f"""
models:
  fast: [up/gpt-4o-mini]
  other: [up/gpt-4o-mini]
prices:
  up/gpt-4o-mini: {{input: 1.0, output: 2.0, cached_input: 0.5}}
{extra}
""")


def chunk(delta: dict, finish: str | None = None) -> dict:
    return {"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "gpt-4o-mini", "system_fingerprint": "fp_1",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            "usage": None}


def usage_chunk() -> dict:
    return {"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "gpt-4o-mini", "system_fingerprint": "fp_1", "choices": [], "usage": USAGE}


def stream_events(with_usage: bool = True) -> list[bytes]:
    """What OpenAI sends for `stream: true` (with `include_usage`, a last usage-only event)."""
    objects = [chunk({"role": "assistant", "content": ""}), chunk({"content": "Hel"}),
               chunk({"content": "lo"}), chunk({}, "stop")]
    if with_usage:
        objects.append(usage_chunk())
    events = [f"data: {json.dumps(o, separators=(',', ':'))}\n\n".encode() for o in objects]
    return [*events, b"data: [DONE]\n\n"]
