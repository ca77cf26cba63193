"""A FakeUpstream behaviour that answers like an OpenAI-compatible server, by path.

`llmp test` and `llmp chat` send several kinds of request to one provider
(model list, completion, stream, embeddings); this behaviour answers each the
way OpenAI's API does, in its real wire shapes, and can be told to be slow
between stream events, so a test can stop a reply halfway.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from tests.support.fake_upstream import Behaviour, sse_json, stream


def completion(model: str, text: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": usage,
    }


def chunks(model: str, pieces: list[str], usage: dict[str, Any] | None) -> list[dict[str, Any]]:
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": model}
    events = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                    "finish_reason": None}]}]
    events += [{**base, "choices": [{"index": 0, "delta": {"content": piece},
                                     "finish_reason": None}]} for piece in pieces]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if usage is not None:
        events.append({**base, "choices": [], "usage": usage})
    return events


def openai_server(
    pieces: list[str] | None = None,
    *,
    models: tuple[str, ...] = ("gpt-fake", "text-embedding-fake"),
    chunk_delay: float = 0.0,
    usage: dict[str, Any] | None = None,
) -> Behaviour:
    """Answer `/models`, `/chat/completions` (whole or streamed) and `/embeddings`."""
    pieces = pieces if pieces is not None else ["Hello", " there"]
    usage = usage or {"prompt_tokens": 7, "completion_tokens": len(pieces),
                      "total_tokens": 7 + len(pieces)}

    async def behaviour(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/models"):
            return web.json_response(
                {"object": "list", "data": [{"id": m, "object": "model", "created": 0,
                                             "owned_by": "fake"} for m in models]})
        body = json.loads(await request.read())
        if request.path.endswith("/embeddings"):
            return web.json_response({
                "object": "list", "model": body["model"],
                "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
                "usage": {"prompt_tokens": 2, "total_tokens": 2}})
        if not body.get("stream"):
            return web.json_response(completion(body["model"], "".join(pieces), usage))
        with_usage = (body.get("stream_options") or {}).get("include_usage")
        events = sse_json(chunks(body["model"], pieces, usage if with_usage else None))
        return await stream(events, delay=chunk_delay)(request)

    return behaviour

