"""Golden fixtures in Anthropic's real wire format (tests/fixtures/anthropic/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "anthropic"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def transcript(name: str) -> bytes:
    """An SSE transcript exactly as Anthropic sends it."""
    return (FIXTURES / name).read_bytes()


def events(name: str) -> list[bytes]:
    """The transcript cut into its events, for a fake upstream to send one write at a time."""
    return [block + b"\n\n" for block in transcript(name).split(b"\n\n") if block.strip()]


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
