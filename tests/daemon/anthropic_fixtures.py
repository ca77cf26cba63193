"""Golden fixtures in Anthropic's real wire format (tests/fixtures/anthropic/), and a config using them."""

from __future__ import annotations

from tests.support.golden import Golden

GOLDEN = Golden("anthropic")
load = GOLDEN.json
transcript = GOLDEN.bytes
events = GOLDEN.sse_events


def config(url: str, extra: str = "") -> str:
    return f"""
providers:
  claude:
    type: anthropic
    base_url: {url}
    api_key: sk-ant-test-upstream-key-123456
    models: [claude-sonnet-4-5-20250929]
{extra}
"""
