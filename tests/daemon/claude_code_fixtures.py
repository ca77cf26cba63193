"""Requests as Claude Code 2.1.197 sent them (tests/fixtures/claude_code/), keys and
personal details removed.

Each fixture is `{"method", "path", "headers", "body"}` of one real request:
`first_turn.json` (`claude -p "say hi"`), `tool_round_trip.json` (the turn after
a `Bash` call, with the replayed thinking block and the tool result) and
`long_context.json` (a prompt of 330 kB piped in). Long texts were cut to keep
the fixtures small; each cut says how many characters it dropped, and `request`
puts that many back, so the bodies replayed are as large as the real ones.
"""

from __future__ import annotations

import re
from typing import Any

from tests.support.golden import Golden

GOLDEN = Golden("claude_code")
SESSIONS = ("first_turn.json", "tool_round_trip.json", "long_context.json")
CUT = re.compile(r"\u2026\[elided (\d+) chars\]$")


def request(name: str) -> dict[str, Any]:
    """The fixture with every cut text grown back to its real length."""
    fixture = GOLDEN.json(name)
    fixture["body"] = _inflate(fixture["body"])
    return fixture


def _inflate(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _inflate(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_inflate(item) for item in value]
    if isinstance(value, str):
        cut = CUT.search(value)
        if cut:
            missing = int(cut.group(1))
            filler = ("lorem ipsum dolor sit amet " * (missing // 27 + 1))[:missing]
            return value[: cut.start()] + filler
    return value


def mid_array_systems(body: dict[str, Any]) -> list[tuple[int, Any]]:
    """(position, content) of the `system` entries inside `messages`."""
    return [(i, m["content"]) for i, m in enumerate(body["messages"]) if m["role"] == "system"]
