"""Anthropic Messages answers and errors, read into the canonical shape.

Also home to the vocabulary both directions share (stop reasons, usage,
error types), so the provider adapter and the inbound Anthropic API cannot
drift apart on what, say, `max_tokens` as a stop reason means.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from llmp.daemon.errors import ErrorKind, UpstreamError
from llmp.daemon.providers.http import kind_for_status, parse_openai_error
from llmp.daemon.types import ChatResponse, Usage

log = logging.getLogger("llmp.daemon")

# Anthropic stop_reason -> OpenAI finish_reason.
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# Anthropic's error `type` for each HTTP status it documents, and back.
STATUS_OF_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
TYPE_OF_STATUS = {status: name for name, status in STATUS_OF_TYPE.items()} | {
    408: "timeout_error", 503: "overloaded_error", 422: "invalid_request_error",
}

_KIND_OF_TYPE = {
    "overloaded_error": ErrorKind.OVERLOADED,
    "rate_limit_error": ErrorKind.RATE_LIMITED,
    "authentication_error": ErrorKind.AUTH,
    "permission_error": ErrorKind.AUTH,
    # Billing is this account's problem, not the request's: another provider may well serve it.
    "billing_error": ErrorKind.QUOTA,
    "not_found_error": ErrorKind.NOT_FOUND,
    "api_error": ErrorKind.SERVER_ERROR,
    "timeout_error": ErrorKind.TIMEOUT,
}


def canonical_usage(usage: dict[str, Any]) -> Usage:
    """Anthropic counts cached input apart from `input_tokens`; OpenAI's `prompt_tokens` includes it."""
    fresh = int(usage.get("input_tokens") or 0)
    read = int(usage.get("cache_read_input_tokens") or 0)
    created = int(usage.get("cache_creation_input_tokens") or 0)
    output = int(usage.get("output_tokens") or 0)
    prompt = fresh + read + created
    details = {"cached_tokens": read}
    if created:
        details["cache_creation_tokens"] = created
    return {
        "prompt_tokens": prompt,
        "completion_tokens": output,
        "total_tokens": prompt + output,
        "prompt_tokens_details": details,
    }


def tool_call(block: dict[str, Any]) -> dict[str, Any]:
    """A `tool_use` block as an OpenAI tool call: the input object becomes a JSON string."""
    return {
        "id": block.get("id"),
        "type": "function",
        "function": {
            "name": block.get("name"),
            "arguments": orjson.dumps(block.get("input") or {}).decode(),
        },
    }


def chat_from_message(message: dict[str, Any]) -> ChatResponse:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    thoughts: list[str] = []
    thinking_blocks: list[dict[str, Any]] = []
    for block in message.get("content") or []:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "tool_use":
            calls.append(tool_call(block))
        elif kind == "thinking":
            thoughts.append(str(block.get("thinking") or ""))
            thinking_blocks.append(block)
        elif kind == "redacted_thinking":
            thinking_blocks.append(block)
        else:
            log.debug("dropping an Anthropic %s block the OpenAI format cannot carry", kind)
    answer: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts else (None if calls else ""),
    }
    if calls:
        answer["tool_calls"] = calls
    if thinking_blocks:
        answer["reasoning_content"] = "".join(thoughts)
        # Kept whole, signatures included: the client sends them back with this turn.
        answer["thinking_blocks"] = thinking_blocks
    reason = message.get("stop_reason")
    return {
        "id": str(message.get("id") or ""),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(message.get("model") or ""),
        "choices": [{
            "index": 0, "message": answer, "logprobs": None,
            "finish_reason": FINISH_REASONS.get(reason, "stop") if reason else None,
        }],
        "usage": canonical_usage(message.get("usage") or {}),
    }


def parse_anthropic_error(status: int, payload: bytes, headers: Any = None) -> UpstreamError:
    """`{"type": "error", "error": {"type", "message"}}`, keeping Anthropic's own error type."""
    try:
        data = orjson.loads(payload) if payload else None
    except orjson.JSONDecodeError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("type"), str):
        return parse_openai_error(status, payload, headers)  # a proxy in between, or a bare page
    error_type = error["type"]
    message = str(error.get("message") or f"upstream answered HTTP {status} ({error_type})")
    kind = _KIND_OF_TYPE.get(error_type) or kind_for_status(status, message)
    code = "context_length_exceeded" if kind == ErrorKind.CONTEXT_LENGTH else None
    return UpstreamError(kind, message, status=status, code=code, error_type=error_type)


def stream_error(data: bytes, provider: str) -> UpstreamError:
    """An `event: error` inside a stream: no HTTP status of its own, so take the one its type has."""
    try:
        parsed = orjson.loads(data)
        error_type = parsed["error"]["type"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        error_type = "api_error"
    error = parse_anthropic_error(STATUS_OF_TYPE.get(str(error_type), 500), data)
    error.provider = provider
    return error


# What a translation raises when an answer is not the shape its format promises.
MALFORMED = (AttributeError, TypeError, ValueError, KeyError)


def unreadable(provider: str | None) -> UpstreamError:
    """An answer in the wrong shape: the provider's fault, and not worth showing as llmp's 500."""
    who = f"provider '{provider}'" if provider else "the provider"
    return UpstreamError(ErrorKind.SERVER_ERROR, f"{who} sent an answer llmp could not read",
                         status=502, provider=provider)
