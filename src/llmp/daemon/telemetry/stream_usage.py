"""Hiding the usage event llmp asked an upstream for and the client did not.

To record real usage for a streamed answer llmp sets
`stream_options.include_usage` on the way up; OpenAI then sends one extra
event, with `"choices": []` and the usage, before `[DONE]`. A client that did
not ask must not see it (some clients index `choices[0]` of every event).

The relay forwards raw bytes, so the filter works on bytes: it forwards only
whole events (holding back the unfinished tail of a read, which is usually
empty because upstreams write whole events), and only a batch that completes a
usage object is split and inspected. Every other read costs two `rfind`s.
"""

from __future__ import annotations

import re

import orjson

_SEPARATORS = (b"\n\n", b"\r\n\r\n")
_SPLIT = re.compile(rb"(\r\n\r\n|\n\n)")


def has_usage(data: bytes) -> bool:
    return b'"usage":{' in data or b'"usage": {' in data


class UsageEventFilter:
    def __init__(self) -> None:
        self._tail = b""

    def feed(self, chunk: bytes, usage_seen: bool) -> bytes:
        """The complete events in what has arrived, less a usage-only event.

        `usage_seen` says an event carrying usage was completed by this chunk
        (the relay looks at every event anyway), so other reads are not searched.
        """
        if not self._tail and chunk.endswith(b"\n\n"):  # the usual read: whole events
            ready = chunk
        else:
            data = self._tail + chunk
            cut = max(_end_of_last(data, sep) for sep in _SEPARATORS)
            ready, self._tail = data[:cut], data[cut:]
        if usage_seen and ready:
            ready = _drop_usage_events(ready)
        return ready

    def flush(self) -> bytes:
        """Whatever the upstream sent after its last complete event."""
        tail, self._tail = self._tail, b""
        return tail


def _end_of_last(data: bytes, separator: bytes) -> int:
    at = data.rfind(separator)
    return at + len(separator) if at >= 0 else 0


def _drop_usage_events(data: bytes) -> bytes:
    parts = _SPLIT.split(data)  # block, separator, block, separator, ..., "" (data ends on a separator)
    kept: list[bytes] = []
    for index in range(0, len(parts) - 1, 2):
        block, separator = parts[index], parts[index + 1]
        if not (has_usage(block) and _usage_only(block)):
            kept.append(block + separator)
    return b"".join(kept) + parts[-1]


def _usage_only(block: bytes) -> bool:
    payload = b"\n".join(
        line[5:].lstrip(b" ") for line in block.replace(b"\r", b"").split(b"\n")
        if line.startswith(b"data:")
    )
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return False
    return isinstance(event, dict) and event.get("choices") == [] and isinstance(event.get("usage"), dict)
