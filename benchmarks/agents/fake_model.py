"""A fake "model" for the agent harness: one loopback server speaking three wire formats.

It answers OpenAI chat completions (`/v1/chat/completions`), Anthropic messages
(`/v1/messages`, `/v1/messages/count_tokens`) and Gemini `generateContent` /
`streamGenerateContent?alt=sse`, streamed or not, in each format's real shape,
so llmp in front of it does exactly the translation it would do for a real
provider.

It behaves like a tool-using model just enough to drive an agent through a
session: a prompt holding `TOOL_TRIGGER`, when the agent offers a shell tool,
gets a call of that tool running `COMMAND`; the tool's result gets a final
answer quoting it; anything else gets `GREETING`. It also "thinks" (a thinking
block, `reasoning_content`, a Gemini thought) so the agent replays reasoning on
the next turn, as it does with real models. Every request is appended to a
JSONL file, so a run can be inspected and its request shapes kept as fixtures.

Run alone: python benchmarks/agents/fake_model.py --port 21001 --record /tmp/requests.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from aiohttp import web

TOOL_TRIGGER = "LLMP-TOOL-TEST"
COMMAND = "echo llmp-tool-$((6*7))"
TOOL_OUTPUT = "llmp-tool-42"  # what COMMAND prints: only a shell that ran it can produce this
FINAL_PREFIX = "TOOL RESULT SEEN:"
GREETING = "fake-model-says-hi"
SHELL_TOOLS = ("Bash", "shell", "exec_command", "shell_command", "local_shell")


# -- what the conversation asks for -------------------------------------------------


def decide(tools: list[tuple[str, dict[str, Any]]], tool_result: str | None, user_text: str
           ) -> tuple[str, dict[str, Any]] | str:
    """A tool call (name, arguments) or the text of a final answer."""
    if tool_result is not None:
        return f"{FINAL_PREFIX} {tool_result.strip()[:200]}"
    if TOOL_TRIGGER in user_text:
        chosen = _shell_tool(tools)
        if chosen is not None:
            return chosen
    return GREETING


def _shell_tool(tools: list[tuple[str, dict[str, Any]]]) -> tuple[str, dict[str, Any]] | None:
    ranked = sorted(tools, key=lambda t: SHELL_TOOLS.index(t[0]) if t[0] in SHELL_TOOLS else 99)
    for name, schema in ranked:
        props = (schema or {}).get("properties") or {}
        if "command" in props:
            is_list = props["command"].get("type") == "array"
            args: dict[str, Any] = {"command": ["bash", "-lc", COMMAND] if is_list else COMMAND}
            if "description" in props:
                args["description"] = "Print the harness marker"
            return name, args
        if "cmd" in props:
            return name, {"cmd": COMMAND}
    return None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_text_of(p.get("text") if isinstance(p, dict) and "text" in p
                                  else p.get("content") if isinstance(p, dict) else p)
                         for p in content if p is not None)
    return "" if content is None else str(content)


def read_openai(body: dict[str, Any]) -> tuple[list[Any], str | None, str]:
    tools = [(t["function"]["name"], t["function"].get("parameters") or {})
             for t in body.get("tools") or [] if t.get("type") == "function"]
    messages = body.get("messages") or []
    last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=-1)
    fresh = messages[last + 1:]
    results = [_text_of(m.get("content")) for m in fresh if m.get("role") == "tool"]
    user = "\n".join(_text_of(m.get("content")) for m in fresh if m.get("role") == "user")
    return tools, ("\n".join(results) if results else None), user


def read_anthropic(body: dict[str, Any]) -> tuple[list[Any], str | None, str]:
    tools = [(t["name"], t.get("input_schema") or {}) for t in body.get("tools") or [] if "name" in t]
    messages = body.get("messages") or []
    last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=-1)
    results, texts = [], []
    for message in messages[last + 1:]:
        if message.get("role") != "user":
            continue
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        for block in blocks:
            if block.get("type") == "tool_result":
                results.append(_text_of(block.get("content")))
            elif block.get("type") == "text":
                texts.append(block.get("text") or "")
    return tools, ("\n".join(results) if results else None), "\n".join(texts)


def read_gemini(body: dict[str, Any]) -> tuple[list[Any], str | None, str]:
    tools = [(d["name"], d.get("parametersJsonSchema") or d.get("parameters") or {})
             for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
    contents = body.get("contents") or []
    last = max((i for i, c in enumerate(contents) if c.get("role") == "model"), default=-1)
    results, texts = [], []
    for content in contents[last + 1:]:
        for part in content.get("parts") or []:
            if "functionResponse" in part:
                response = part["functionResponse"].get("response") or {}
                results.append(str(response.get("result", response.get("output", json.dumps(response)))))
            elif "text" in part:
                texts.append(part["text"])
    return tools, ("\n".join(results) if results else None), "\n".join(texts)


# -- answers in each wire format -----------------------------------------------------

THOUGHT = "The user wants something; let me think briefly."


def _sse(data: Any, event: str | None = None, crlf: bool = False) -> bytes:
    line_end = "\r\n" if crlf else "\n"
    head = f"event: {event}{line_end}" if event else ""
    return f"{head}data: {json.dumps(data)}{line_end}{line_end}".encode()


def openai_answer(body: dict[str, Any], answer: Any, stream: bool) -> Any:
    created, model, ident = int(time.time()), body.get("model", "fake"), "chatcmpl-fake"
    usage = {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}
    call = None
    if isinstance(answer, tuple):
        call = {"id": "call_fake_1", "type": "function",
                "function": {"name": answer[0], "arguments": json.dumps(answer[1])}}
    finish = "tool_calls" if call else "stop"
    if not stream:
        message: dict[str, Any] = {"role": "assistant", "reasoning_content": THOUGHT,
                                   "content": None if call else answer}
        if call:
            message["tool_calls"] = [call]
        return {"id": ident, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage}

    def chunk(delta: dict[str, Any], reason: str | None = None) -> bytes:
        return _sse({"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]})

    events = [chunk({"role": "assistant", "content": ""}), chunk({"reasoning_content": THOUGHT})]
    if call:
        arguments = call["function"]["arguments"]
        half = len(arguments) // 2
        events.append(chunk({"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                             "function": {"name": call["function"]["name"],
                                                          "arguments": arguments[:half]}}]}))
        events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[half:]}}]}))
    else:
        events += [chunk({"content": answer[:5]}), chunk({"content": answer[5:]})]
    events.append(chunk({}, finish))
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append(_sse({"id": ident, "object": "chat.completion.chunk", "created": created,
                            "model": model, "choices": [], "usage": usage}))
    return [*events, b"data: [DONE]\n\n"]


def anthropic_answer(body: dict[str, Any], answer: Any, stream: bool) -> Any:
    thinks = (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
    blocks: list[dict[str, Any]] = []
    if thinks:
        blocks.append({"type": "thinking", "thinking": THOUGHT, "signature": "fake-signature-1"})
    if isinstance(answer, tuple):
        blocks.append({"type": "tool_use", "id": "toolu_fake_1", "name": answer[0], "input": answer[1]})
    else:
        blocks.append({"type": "text", "text": answer})
    stop = "tool_use" if isinstance(answer, tuple) else "end_turn"
    message = {"id": "msg_fake_1", "type": "message", "role": "assistant",
               "model": body.get("model", "fake"), "content": blocks, "stop_reason": stop,
               "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 7}}
    if not stream:
        return message
    start = {**message, "content": [], "stop_reason": None, "usage": {"input_tokens": 12, "output_tokens": 1}}
    events = [_sse({"type": "message_start", "message": start}, "message_start"),
              _sse({"type": "ping"}, "ping")]
    for index, block in enumerate(blocks):
        kind = block["type"]
        empty = {"thinking": {"type": "thinking", "thinking": "", "signature": ""},
                 "text": {"type": "text", "text": ""},
                 "tool_use": {**block, "input": {}}}[kind]
        events.append(_sse({"type": "content_block_start", "index": index, "content_block": empty},
                           "content_block_start"))
        if kind == "thinking":
            deltas = [{"type": "thinking_delta", "thinking": THOUGHT},
                      {"type": "signature_delta", "signature": block["signature"]}]
        elif kind == "text":
            deltas = [{"type": "text_delta", "text": block["text"][:5]},
                      {"type": "text_delta", "text": block["text"][5:]}]
        else:
            raw = json.dumps(block["input"])
            deltas = [{"type": "input_json_delta", "partial_json": raw[:len(raw) // 2]},
                      {"type": "input_json_delta", "partial_json": raw[len(raw) // 2:]}]
        events += [_sse({"type": "content_block_delta", "index": index, "delta": d},
                        "content_block_delta") for d in deltas]
        events.append(_sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
    events.append(_sse({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                        "usage": {"output_tokens": 7}}, "message_delta"))
    events.append(_sse({"type": "message_stop"}, "message_stop"))
    return events


def gemini_answer(body: dict[str, Any], answer: Any, stream: bool) -> Any:
    thinks = ((body.get("generationConfig") or {}).get("thinkingConfig") or {}).get("includeThoughts")
    parts: list[dict[str, Any]] = [{"text": THOUGHT, "thought": True}] if thinks else []
    if isinstance(answer, tuple):
        parts.append({"functionCall": {"name": answer[0], "args": answer[1]},
                      "thoughtSignature": "ZmFrZS1zaWduYXR1cmU="})
    else:
        parts.append({"text": answer})
    usage = {"promptTokenCount": 12, "candidatesTokenCount": 7, "totalTokenCount": 19}

    def response(some: list[dict[str, Any]], last: bool) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": some}, "index": 0}
        if last:
            candidate["finishReason"] = "STOP"
        out: dict[str, Any] = {"candidates": [candidate], "modelVersion": "fake-gemini"}
        if last:
            out["usageMetadata"] = usage
        return out

    if not stream:
        return response(parts, True)
    return [_sse(response([part], i == len(parts) - 1), crlf=True) for i, part in enumerate(parts)]


# -- the server ---------------------------------------------------------------------


class FakeModel:
    def __init__(self, record: Path | None) -> None:
        self.record = record

    def _note(self, request: web.Request, body: Any) -> None:
        if self.record is None:
            return
        entry = {"method": request.method, "path": request.path_qs,
                 "headers": {k.lower(): v for k, v in request.headers.items()}, "body": body}
        with self.record.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = json.loads(raw) if raw else {}
        self._note(request, body)
        path = request.path
        if path.endswith("/messages/count_tokens"):
            return web.json_response({"input_tokens": max(1, len(raw) // 4)})
        if path.endswith("/messages"):
            answer = decide(*read_anthropic(body))
            return await self._send(request, anthropic_answer(body, answer, bool(body.get("stream"))))
        if path.endswith("/chat/completions"):
            answer = decide(*read_openai(body))
            return await self._send(request, openai_answer(body, answer, bool(body.get("stream"))))
        if ":generateContent" in path or ":streamGenerateContent" in path:
            answer = decide(*read_gemini(body))
            return await self._send(request, gemini_answer(body, answer, "stream" in path))
        if ":countTokens" in path:
            return web.json_response({"totalTokens": max(1, len(raw) // 4)})
        if path.endswith("/models"):
            return web.json_response({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
        return web.json_response({"error": {"message": f"fake model: no route {path}"}}, status=404)

    async def _send(self, request: web.Request, answer: Any) -> web.StreamResponse:
        if isinstance(answer, dict):
            return web.json_response(answer)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event in answer:
            await response.write(event)
        await response.write_eof()
        return response


def make_app(record: Path | None) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", FakeModel(record).handle)
    return app


async def serve(port: int, record: Path | None, ready: asyncio.Event | None = None) -> web.AppRunner:
    runner = web.AppRunner(make_app(record), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    if ready is not None:
        ready.set()
    return runner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", type=Path, default=None, help="append every request to this JSONL file")
    args = parser.parse_args()
    web.run_app(make_app(args.record), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
