"""Golden fixtures: a provider's real wire format kept under `tests/fixtures/<provider>/`,
and the helpers that replay them through a gateway and read what came out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1] / "fixtures"


class Golden:
    def __init__(self, provider: str) -> None:
        self.folder = ROOT / provider

    def bytes(self, name: str) -> bytes:
        return (self.folder / name).read_bytes()

    def json(self, name: str) -> Any:
        return json.loads(self.bytes(name))

    def sse_events(self, name: str) -> list[bytes]:
        """A transcript split into its events, to be written one per network write.

        The transcript's own separator (`\n\n` or `\r\n\r\n`) is kept, and a final
        event cut short (a transcript of a dropped stream) stays cut short.
        """
        raw = self.bytes(name)
        separator = b"\r\n\r\n" if b"\r\n\r\n" in raw else b"\n\n"
        *complete, rest = raw.split(separator)
        events = [block + separator for block in complete if block.strip()]
        return events + ([rest] if rest.strip() else [])


def post_stream(base_url: str, body: dict[str, Any]) -> tuple[int, str]:
    """Stream a chat completion from the gateway as raw text (what any client would read)."""
    with httpx.stream("POST", base_url + "/chat/completions", json={"stream": True, **body}) as response:
        return response.status_code, "".join(response.iter_text())


def last_data(text: str) -> Any:
    return json.loads([line for line in text.splitlines() if line.startswith("data: ")][-1][6:])
