"""Token counts for one request: the provider's own numbers, or an honest estimate.

Providers name their counts differently (OpenAI `prompt_tokens`, Anthropic
`input_tokens` plus cache fields, Gemini `promptTokenCount`); `normalize`
turns any of them into one shape. A pass-through answer is bytes the daemon
never parsed, so `usage_from_body` finds the `usage` object near its end
without decoding the whole body (an embeddings answer can be megabytes).
When a provider reports nothing, `estimate` guesses from the text (about four
characters per token) and the ledger row says it is an estimate.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import orjson

from llmp.daemon.context import RequestContext

CHARS_PER_TOKEN = 4
_USAGE_KEY = b'"usage"'


class Tokens(NamedTuple):  # a tuple: made for every request, at half a frozen dataclass's cost
    input: int  # every prompt token, cached ones included
    output: int
    cached: int  # the part of `input` served from the provider's prompt cache
    estimated: bool = False


def normalize(usage: Any) -> Tokens | None:
    """Any provider's usage object as `Tokens`; None when it holds no counts."""
    if not isinstance(usage, dict):
        return None
    if "prompt_tokens" in usage or "completion_tokens" in usage:  # OpenAI and compatibles
        details = usage.get("prompt_tokens_details")
        cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
        cached = cached or _int(usage.get("prompt_cache_hit_tokens"))  # DeepSeek
        return Tokens(_int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens")), cached)
    responses = usage.get("input_tokens_details")
    if isinstance(responses, dict):  # OpenAI Responses API: input_tokens include cached ones
        return Tokens(_int(usage.get("input_tokens")), _int(usage.get("output_tokens")),
                      _int(responses.get("cached_tokens")))
    if "input_tokens" in usage or "output_tokens" in usage:  # Anthropic: cache reads come on top
        read = _int(usage.get("cache_read_input_tokens"))
        written = _int(usage.get("cache_creation_input_tokens"))
        return Tokens(_int(usage.get("input_tokens")) + read + written,
                      _int(usage.get("output_tokens")), read)
    if "promptTokenCount" in usage:  # Gemini usageMetadata
        return Tokens(_int(usage.get("promptTokenCount")),
                      _int(usage.get("candidatesTokenCount")) + _int(usage.get("thoughtsTokenCount")),
                      _int(usage.get("cachedContentTokenCount")))
    return None


def usage_from_body(body: bytes) -> dict[str, Any] | None:
    """The top-level `usage` object of a JSON answer, found from the end.

    `usage` comes last in OpenAI and Anthropic answers, and a `"usage"` inside
    generated text is escaped (`\\"usage\\"`), so the last unescaped key is the
    real one. Only the small object is decoded.
    """
    at = body.rfind(_USAGE_KEY)
    while at > 0 and body[at - 1] == 0x5C:  # a backslash: the word inside a string
        at = body.rfind(_USAGE_KEY, 0, at)
    if at < 0:
        return None
    start = body.find(b"{", at + len(_USAGE_KEY))
    if start < 0 or body[at + len(_USAGE_KEY):start].strip() != b":":
        return None
    end = start
    for _ in range(8):  # usage nests objects at most a couple of levels deep
        end = body.find(b"}", end + 1)
        if end < 0:
            return None
        try:
            value = orjson.loads(body[start:end + 1])
        except orjson.JSONDecodeError:
            continue
        return value if isinstance(value, dict) else None
    return None


def tokens_for(ctx: RequestContext) -> Tokens | None:
    """What this request used: reported if the provider said, estimated if it answered without saying."""
    reported = None if ctx.usage is None else normalize(ctx.usage)
    if reported is None and ctx.response_body:
        reported = normalize(usage_from_body(ctx.response_body))
    if reported is not None:
        return reported
    if ctx.status >= 400 or ctx.status == 0:
        return None
    return estimate(ctx)


def estimate(ctx: RequestContext) -> Tokens:
    prompt = _text_chars(ctx.request_body)
    # A stream carries about one token per content event, plus a first and a last event.
    stream_tokens = max(0, ctx.stream_events - 2)
    output = stream_tokens if ctx.stream else _tokens(_answer_chars(ctx.response_body))
    return Tokens(_tokens(prompt), output, 0, estimated=True)


def _tokens(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


def _text_chars(body: dict[str, Any] | None) -> int:
    if not body:
        return 0
    total = 0
    for message in body.get("messages") or ():
        if isinstance(message, dict):
            total += _content_chars(message.get("content"))
    total += _content_chars(body.get("system"))  # Anthropic puts the system prompt here
    for key in ("prompt", "input"):
        value = body.get(key)
        if isinstance(value, list):
            total += sum(len(v) for v in value if isinstance(v, str))
        elif isinstance(value, str):
            total += len(value)
    return total


def _content_chars(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        # A part's `text` is not checked on the way in (only a text part's is): count strings only.
        return sum(len(text) for p in content if isinstance(p, dict)
                   and isinstance(text := p.get("text"), str))
    return 0


def _answer_chars(body: bytes | None) -> int:
    if not body:
        return 0
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 0
    total = 0
    for choice in data.get("choices") or () if isinstance(data, dict) else ():
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        if isinstance(message, dict):
            total += _content_chars(message.get("content"))
        elif isinstance(choice.get("text"), str):
            total += len(choice["text"])
    if isinstance(data, dict) and isinstance(data.get("content"), list):  # Anthropic
        total += _content_chars(data["content"])
    return total


def _int(value: Any) -> int:
    """A token count as reported, or 0 when it is not a count (a negative one included)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
