"""A fake OpenAI upstream that checks the API key, as the real one does."""

from __future__ import annotations

from aiohttp import web

from tests.support.fake_upstream import Behaviour

MODELS = {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "created": 1,
                                      "owned_by": "openai"}]}
COMPLETION = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "authorised"},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
}


def requires_key(key: str) -> Behaviour:
    """The model list or a chat completion for the right key, else OpenAI's 401.

    The 401 echoes the key it was sent in full, the worst an upstream could do,
    so tests can check that llmp never passes it on.
    """

    async def behaviour(request: web.Request) -> web.StreamResponse:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if given == key:
            return web.json_response(MODELS if request.path.endswith("/models") else COMPLETION)
        return web.json_response(
            {"error": {"message": f"Incorrect API key provided: {given}.",
                       "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}},
            status=401,
        )

    return behaviour
