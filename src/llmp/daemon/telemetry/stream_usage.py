"""Finding usage in a relayed stream, and hiding the usage event llmp asked for.

To record real usage for a streamed answer llmp sets
`stream_options.include_usage` on the way up; OpenAI then sends one extra
event, with `"choices": []` and the usage, before `[DONE]`. A client that did
not ask must not see it (some clients index `choices[0]` of every event).

The relay forwards raw bytes, so this works on bytes, and it runs for every
read of every stream: a read is searched for the usage marker only, and just
the event around a match is cut out and parsed. Under load one read can hold
a whole answer's events, so nothing here splits or parses a read as a whole.
The filter forwards only whole events, holding back the unfinished tail of a
read (usually empty, as upstreams write whole events).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

_MARKERS = (b'"usage":{', b'"usage": {')
_SEPARATORS = (b"\n\n", b"\r\n\r\n")


def has_usage(data: bytes) -> bool:
    return _MARKERS[0] in data or _MARKERS[1] in data


def last_usage(events: bytes) -> dict[str, Any] | None:
    """The usage object of the last event in `events` that carries one."""
    for start, end in _usage_events(events):
        usage = _payload(events[start:end]).get("usage")
        if isinstance(usage, dict):
            return usage
    return None


class UsageEventFilter:
    def __init__(self) -> None:
        self._tail = b""

    def feed(self, chunk: bytes, usage_seen: bool) -> bytes:
        """The complete events in what has arrived, less a usage-only event.

        `usage_seen` says an event carrying usage was completed by this chunk
        (the relay looks for one anyway), so other reads are not searched.
        """
        if not self._tail and chunk.endswith(b"\n\n"):  # the usual read: whole events
            ready = chunk
        else:
            data = self._tail + chunk
            cut = max(_end_of_last(data, sep) for sep in _SEPARATORS)
            ready, self._tail = data[:cut], data[cut:]
        if usage_seen and ready:
            ready = _drop_usage_only_events(ready)
        return ready

    def flush(self) -> bytes:
        """Whatever the upstream sent after its last complete event."""
        tail, self._tail = self._tail, b""
        return tail


def _drop_usage_only_events(data: bytes) -> bytes:
    for start, end in _usage_events(data):
        payload = _payload(data[start:end])
        if payload.get("choices") == [] and isinstance(payload.get("usage"), dict):
            data = data[:start] + data[end:]
    return data


def _usage_events(data: bytes) -> Iterator[tuple[int, int]]:
    """Where each event holding a usage marker starts and ends (its separator included),
    the last first, so cutting one out leaves the earlier spans valid."""
    limit = len(data)
    while True:
        at = max(data.rfind(_MARKERS[0], 0, limit), data.rfind(_MARKERS[1], 0, limit))
        if at < 0:
            return
        start = max(_end_of_last(data, sep, at) for sep in _SEPARATORS)
        yield start, _end_of_next(data, at)
        limit = start


def _end_of_last(data: bytes, separator: bytes, before: int | None = None) -> int:
    at = data.rfind(separator, 0, before)
    return at + len(separator) if at >= 0 else 0


def _end_of_next(data: bytes, at: int) -> int:
    ends = [found + len(sep) for sep in _SEPARATORS if (found := data.find(sep, at)) >= 0]
    return min(ends) if ends else len(data)


def _payload(event: bytes) -> dict[str, Any]:
    """An event's data as a JSON object ({} when it is not one)."""
    body = event.rstrip(b"\r\n")
    if body.startswith(b"data:") and b"\n" not in body:  # the usual event: one data line
        data = body[5:]
    else:
        data = b"\n".join(
            line[5:].lstrip(b" ") for line in body.replace(b"\r", b"").split(b"\n")
            if line.startswith(b"data:")
        )
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
