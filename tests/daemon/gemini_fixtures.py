"""Golden Gemini wire data (tests/fixtures/gemini) and the config that points llmp at a fake Gemini."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "gemini"
API_KEY = "AIzaSy-test-gemini-key-0123456789"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def sse(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def events(name: str) -> list[bytes]:
    """A transcript split into its events, so a fake upstream writes them one by one."""
    raw = sse(name)
    separator = b"\r\n\r\n" if b"\r\n\r\n" in raw else b"\n\n"
    parts = raw.split(separator)
    return [part + separator for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


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
