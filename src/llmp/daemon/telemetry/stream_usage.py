"""Finding usage in a relayed stream, and hiding the usage event llmp asked for.

To record real usage for a streamed answer llmp sets
`stream_options.include_usage` on the way up; OpenAI then sends one extra
event, with `"choices": []` and the usage, before `[DONE]`. A client that did
not ask must not see it (some clients index `choices[0]` of every event).

The relay forwards raw bytes, so this works on bytes, and it runs for every
read of every stream. Usage comes at the end of an answer (the last event
before `[DONE]`, or the one with the finish reason), so only the last two
whole events of a read are searched: under load one read can hold a whole
answer, and scanning all of it for the marker would cost more than relaying
it. Just the event around a match is cut out and parsed. A relay that hides
the usage event forwards only whole events (it holds back the unfinished tail
of a read, usually empty as upstreams write whole events).
"""

from __future__ import annotations

from typing import Any

import orjson

_MARKERS = (b'"usage":{', b'"usage": {')


def has_usage(data: bytes, start: int = 0, end: int | None = None) -> bool:
    """Whether `data[start:end]` holds a usage object (searched in place, not copied)."""
    return data.find(_MARKERS[0], start, end) >= 0 or data.find(_MARKERS[1], start, end) >= 0


def last_events(data: bytes, separator: bytes, end: int | None = None, count: int = 2) -> int:
    """Where the last `count` whole events of `data[:end]` begin (a trailing separator allowed)."""
    if end is None:
        end = len(data) - len(separator) if data.endswith(separator) else len(data)
    at = end
    for _ in range(count):
        at = data.rfind(separator, 0, at)
        if at < 0:
            return 0
    return at + len(separator)


def last_usage(events: bytes, separator: bytes = b"\n\n") -> dict[str, Any] | None:
    """The usage object of the last event in `events` that carries one."""
    for start, end in _usage_events(events, separator):
        usage = _payload(events[start:end]).get("usage")
        if isinstance(usage, dict):
            return usage
    return None


def without_usage_event(events: bytes, separator: bytes) -> bytes:
    """`events` (whole events) less a usage-only event among the last two, where usage comes."""
    return split_usage(events, separator)[1]


def split_usage(events: bytes, separator: bytes) -> tuple[dict[str, Any] | None, bytes]:
    """The usage of the last two whole events of `events`, and `events` less a usage-only event
    among them: a relay that hides the event it asked for records its usage and cuts it out,
    finding and parsing it once."""
    tail = last_events(events, separator)
    data = events[tail:]
    usage = None
    for start, end in _usage_events(data, separator):  # the last first
        payload = _payload(data[start:end])
        found = payload.get("usage")
        if not isinstance(found, dict):
            continue
        usage = usage or found
        if payload.get("choices") == []:
            data = data[:start] + data[end:]
    return usage, events[:tail] + data


def _usage_events(data: bytes, separator: bytes) -> list[tuple[int, int]]:
    """Where each event holding a usage marker starts and ends (its separator included),
    the last first, so cutting one out leaves the earlier spans valid.

    The read is searched forwards (fast) for the markers; only the few bytes
    back to the start of each matching event are searched backwards.
    """
    spans = []
    at = _next_marker(data, 0)
    while at >= 0:
        start = data.rfind(separator, 0, at)
        end = data.find(separator, at)
        end = end + len(separator) if end >= 0 else len(data)
        spans.append((start + len(separator) if start >= 0 else 0, end))
        at = _next_marker(data, end)
    spans.reverse()
    return spans


def _next_marker(data: bytes, start: int) -> int:
    found = [at for marker in _MARKERS if (at := data.find(marker, start)) >= 0]
    return min(found) if found else -1


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
