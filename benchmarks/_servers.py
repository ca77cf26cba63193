"""The processes a benchmark measures: a fake upstream and a bare aiohttp pass-through proxy.

Each runs in its own process (`python _servers.py upstream PORT` /
`python _servers.py proxy PORT UPSTREAM_URL`) so its CPU time can be read on its own.
"""

from __future__ import annotations

import json
import sys

from aiohttp import ClientSession, TCPConnector, web

COMPLETION = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000,
    "model": "bench-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "x" * 200},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 20, "completion_tokens": 50, "total_tokens": 70},
}).encode()


def chunk_event(text: str, finish: str | None = None) -> bytes:
    body = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "bench-model",
            "choices": [{"index": 0, "delta": {"content": text}, "logprobs": None,
                         "finish_reason": finish}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def upstream_app(chunks: int) -> web.Application:
    events = [chunk_event(f"tok{i} ") for i in range(chunks)]
    events.append(chunk_event("", "stop"))
    events.append(b"data: [DONE]\n\n")

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if not body.get("stream"):
            return web.Response(body=COMPLETION, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event in events:
            await response.write(event)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


def proxy_app(upstream: str) -> web.Application:
    """The baseline: the least an aiohttp proxy can do and still relay a stream."""
    app = web.Application()

    async def start(app: web.Application) -> None:
        app["session"] = ClientSession(connector=TCPConnector(limit=256))

    async def stop(app: web.Application) -> None:
        await app["session"].close()

    async def relay(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        async with request.app["session"].post(
            upstream + request.path, data=body, headers={"Content-Type": "application/json"}
        ) as upstream_response:
            if upstream_response.content_type != "text/event-stream":
                return web.Response(body=await upstream_response.read(),
                                    status=upstream_response.status,
                                    content_type=upstream_response.content_type)
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            async for data in upstream_response.content.iter_any():
                await response.write(data)
            await response.write_eof()
            return response

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_post("/v1/chat/completions", relay)
    return app


if __name__ == "__main__":
    role, port = sys.argv[1], int(sys.argv[2])
    if role == "upstream":
        application = upstream_app(int(sys.argv[3]) if len(sys.argv) > 3 else 50)
    else:
        application = proxy_app(sys.argv[3])
    web.run_app(application, host="127.0.0.1", port=port, access_log=None, print=None)
