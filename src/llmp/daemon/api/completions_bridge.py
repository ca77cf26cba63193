"""Legacy `/v1/completions` for providers that only have chat.

The prompt becomes one user message; the chat answer becomes a
`text_completion`, streamed or not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from llmp.daemon.errors import ClientError

_SHARED = ("max_tokens", "temperature", "top_p", "stop", "n", "user", "stream",
           "stream_options", "seed", "presence_penalty", "frequency_penalty", "mock")


def chat_request_from_completion(body: dict[str, Any]) -> dict[str, Any]:
    prompt = body.get("prompt", "")
    if isinstance(prompt, list):
        if len(prompt) != 1 or not isinstance(prompt[0], str):
            raise ClientError(
                "this provider takes a single string prompt for /v1/completions", param="prompt"
            )
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise ClientError("'prompt' must be a string", param="prompt")
    request = {key: body[key] for key in _SHARED if key in body}
    request["model"] = body.get("model")
    request["messages"] = [{"role": "user", "content": prompt}]
    return request


def completion_from_chat(response: dict[str, Any]) -> dict[str, Any]:
    choices = [
        {
            "index": choice.get("index", 0),
            "text": (choice.get("message") or {}).get("content") or "",
            "finish_reason": choice.get("finish_reason"),
            "logprobs": None,
        }
        for choice in response.get("choices") or []
    ]
    result = {
        "id": response.get("id"),
        "object": "text_completion",
        "created": response.get("created"),
        "model": response.get("model"),
        "choices": choices,
    }
    if response.get("usage"):
        result["usage"] = response["usage"]
    return result


async def completion_chunks(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    async for chunk in chunks:
        out: dict[str, Any] = {
            "id": chunk.get("id"),
            "object": "text_completion",
            "created": chunk.get("created"),
            "model": chunk.get("model"),
            "choices": [
                {
                    "index": choice.get("index", 0),
                    "text": (choice.get("delta") or {}).get("content") or "",
                    "finish_reason": choice.get("finish_reason"),
                    "logprobs": None,
                }
                for choice in chunk.get("choices") or []
            ],
        }
        if chunk.get("usage"):
            out["usage"] = chunk["usage"]
        yield out
