"""Golden Gemini wire data (tests/fixtures/gemini) and the config that points llmp at a fake Gemini."""

from __future__ import annotations

from tests.support.golden import Golden

API_KEY = "AIzaSy-test-gemini-key-0123456789"
GOLDEN = Golden("gemini")
load, sse, events = GOLDEN.json, GOLDEN.bytes, GOLDEN.sse_events


def gemini_config(url: str, extra: str = "") -> str:
    return f"""
providers:
  gemini:
    type: gemini
    base_url: {url}/v1beta
    api_key: {API_KEY}
    models: [gemini-2.0-flash, gemini-2.5-flash, gemini-2.5-pro, text-embedding-004]
{extra}
"""
