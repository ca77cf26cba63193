"""Reading the daemon's OpenAI-shaped answers: error bodies and stream events.

`llmp chat` and `llmp test` both talk to `/v1`; they read what comes back the
same way, so an error is worded the same wherever it shows.
"""

from __future__ import annotations

import json
from typing import Any


class AnswerError(Exception):
    """An error answer or error event: the daemon's message, its OpenAI `type`, the status."""

    def __init__(self, message: str, error_type: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.status = status


def error_of(status: int, content: bytes) -> AnswerError:
    """The error in an HTTP error answer, whatever its body looks like."""
    try:
        error = json.loads(content).get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and error.get("message"):
        return AnswerError(str(error["message"]), _type(error), status)
    if isinstance(error, str) and error:
        return AnswerError(error, None, status)
    text = content[:200].decode("utf-8", "replace").strip()
    return AnswerError(text or f"HTTP {status}", None, status)


def read_event(data: str) -> dict[str, Any]:
    """One stream event's JSON; an error event raises `AnswerError`."""
    try:
        event = json.loads(data)
    except ValueError:
        raise AnswerError("the daemon sent a stream event that is not JSON") from None
    if not isinstance(event, dict):
        return {}
    error = event.get("error")
    if error is not None:
        if isinstance(error, dict):
            raise AnswerError(str(error.get("message") or "the stream failed"), _type(error))
        raise AnswerError(str(error))
    return event


def delta_text(event: dict[str, Any]) -> str:
    choices = event.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return ""
    return str((choices[0].get("delta") or {}).get("content") or "")


def _type(error: dict[str, Any]) -> str | None:
    value = error.get("type")
    return value if isinstance(value, str) else None
