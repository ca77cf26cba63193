"""A local guess of a canonical request's input tokens, for providers that cannot count.

Clients such as Claude Code ask `/v1/messages/count_tokens` to decide when to
compact a conversation; a 400 there breaks them, and a guess that errs a little
high only makes them compact a little early. So: about four characters per
token for text (tool definitions and call arguments included), a fixed share
for each image or file (their size in base64 says little about their tokens),
and a few tokens of framing per message. The answer says it is an estimate.
"""

from __future__ import annotations

from typing import Any

import orjson

CHARS_PER_TOKEN = 4
MEDIA_TOKENS = 1600  # about what Anthropic bills a full-size image; a page of a PDF is similar
MESSAGE_OVERHEAD = 4
_MEDIA = frozenset({"image_url", "input_audio", "file"})


def estimate_input_tokens(request: dict[str, Any]) -> int:
    chars, media, messages = 0, 0, request.get("messages") or []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, dict):
                    continue
                if part.get("type") in _MEDIA:
                    media += 1
                else:
                    chars += len(str(part.get("text") or ""))
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            chars += len(str(function.get("name") or "")) + len(str(function.get("arguments") or ""))
    if request.get("tools"):
        chars += len(orjson.dumps(request["tools"]))
    text_tokens = -(-chars // CHARS_PER_TOKEN)
    return max(1, text_tokens + media * MEDIA_TOKENS + MESSAGE_OVERHEAD * len(messages))
