"""Cohere v2 <-> OpenAI Chat Completions: chat requests, complete answers, embeddings.

Cohere's v2 chat is close to OpenAI's (roles, OpenAI-style function tools and
tool calls) but differs in the details a client would trip over: `p` for
`top_p`, `stop_sequences`, a `tool_plan` beside tool calls instead of content,
tool results as documents, upper-case finish reasons, usage split into billed
units and tokens. Anything with no Cohere equivalent that changes the answer
(`n` > 1, audio or file parts, a non-function tool) is refused with a 400
rather than silently dropped.
"""

from __future__ import annotations

import base64
import struct
import time
from typing import Any

from llmp.daemon.errors import ClientError, ErrorKind, UpstreamError
from llmp.daemon.types import ChatRequest, ChatResponse, EmbeddingRequest

FINISH_REASONS = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "USER_CANCEL": "stop",
    "MAX_TOKENS": "length",
    "ERROR_LIMIT": "length",
    "TOOL_CALL": "tool_calls",
    "ERROR_TOXIC": "content_filter",
}
# Finish reasons that mean no usable answer: the client gets an error, not a reply.
FAILED = {
    "ERROR": (ErrorKind.SERVER_ERROR, 502, "failed while generating the reply"),
    "TIMEOUT": (ErrorKind.TIMEOUT, 504, "timed out while generating the reply"),
}
# OpenAI parameters that mean the same in Cohere under the same name.
SAME_NAME = ("temperature", "seed", "frequency_penalty", "presence_penalty")
DEFAULT_INPUT_TYPE = "search_document"
P_RANGE = (0.01, 0.99)


def finish_reason(reason: Any, provider: str) -> str:
    if reason in FAILED:
        kind, status, what = FAILED[reason]
        raise UpstreamError(
            kind, f"provider '{provider}' {what} (finish_reason {reason})",
            status=status, provider=provider,
        )
    return FINISH_REASONS.get(str(reason), "stop")


def usage(raw: Any) -> dict[str, Any] | None:
    """Billed units when Cohere reports them (what the request costs), else raw tokens."""
    if not isinstance(raw, dict):
        return None
    billed = raw.get("billed_units") or {}
    tokens = raw.get("tokens") or {}
    prompt = billed.get("input_tokens", tokens.get("input_tokens"))
    completion = billed.get("output_tokens", tokens.get("output_tokens"))
    if prompt is None and completion is None:
        return None
    result: dict[str, Any] = {
        "prompt_tokens": int(prompt or 0),
        "completion_tokens": int(completion or 0),
        "total_tokens": int(prompt or 0) + int(completion or 0),
    }
    if raw.get("cached_tokens"):
        result["prompt_tokens_details"] = {"cached_tokens": int(raw["cached_tokens"])}
    return result


# -- requests -----------------------------------------------------------------


def chat_request(request: ChatRequest, model: str) -> dict[str, Any]:
    if int(request.get("n") or 1) > 1:
        raise ClientError("Cohere answers with one choice per request; 'n' must be 1.", param="n")
    body: dict[str, Any] = {
        "model": model,
        "messages": [_message(m, i) for i, m in enumerate(request.get("messages") or [])],
    }
    for name in SAME_NAME:
        if request.get(name) is not None:
            body[name] = request[name]  # type: ignore[literal-required]
    max_tokens = request.get("max_completion_tokens") or request.get("max_tokens")
    if max_tokens:
        body["max_tokens"] = max_tokens
    if request.get("top_p") is not None:
        # Cohere takes p in [0.01, 0.99]; OpenAI's 1 ("no cut") is the common default.
        body["p"] = min(max(float(request["top_p"]), P_RANGE[0]), P_RANGE[1])
    stop = request.get("stop")
    if stop:
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    tools = request.get("tools")
    if tools:
        body["tools"] = [_tool(t, i) for i, t in enumerate(tools)]
        if any((t.get("function") or {}).get("strict") for t in tools):
            body["strict_tools"] = True
    _tool_choice(body, request.get("tool_choice"))
    if request.get("response_format"):
        body["response_format"] = _response_format(request["response_format"])
    return body


def _message(message: dict[str, Any], index: int) -> dict[str, Any]:
    role = message.get("role")
    where = f"messages[{index}]"
    content = message.get("content")
    if role in ("system", "developer"):
        return {"role": "system", "content": _text(content, where)}
    if role == "user":
        return {"role": "user", "content": _user_content(content, where)}
    if role == "assistant":
        return _assistant(message, where)
    if role == "tool":
        documents = [
            {"type": "document", "document": {"data": text}}
            for text in _texts(content, where)
        ]
        return {"role": "tool", "tool_call_id": str(message.get("tool_call_id") or ""),
                "content": documents}
    raise ClientError(
        f"'{where}.role' {role!r} has no Cohere equivalent; send tool results as role 'tool'.",
        param=f"{where}.role",
    )


def _assistant(message: dict[str, Any], where: str) -> dict[str, Any]:
    text = "".join(_texts(message.get("content"), where))
    calls = message.get("tool_calls") or []
    result: dict[str, Any] = {"role": "assistant"}
    if calls:
        result["tool_calls"] = [_tool_call(call, f"{where}.tool_calls[{i}]") for i, call in enumerate(calls)]
        # Cohere keeps the words before a tool call as its plan, not as content.
        if text:
            result["tool_plan"] = text
    else:
        result["content"] = text
    return result


def _tool_call(call: Any, where: str) -> dict[str, Any]:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise ClientError(f"'{where}' needs a function with a name.", param=where)
    arguments = function.get("arguments") or "{}"
    if not isinstance(arguments, str):
        raise ClientError(f"'{where}.function.arguments' must be a string of JSON.",
                          param=f"{where}.function.arguments")
    return {"id": call.get("id"), "type": "function",
            "function": {"name": function["name"], "arguments": arguments}}


def _texts(content: Any, where: str) -> list[str]:
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    texts = []
    for part in content:
        if not isinstance(part, dict) or part.get("type") != "text":
            kind = part.get("type") if isinstance(part, dict) else type(part).__name__
            raise ClientError(
                f"'{where}.content' may only hold text parts for Cohere; got {kind!r}.",
                param=f"{where}.content",
            )
        texts.append(str(part.get("text", "")))
    return texts


def _text(content: Any, where: str) -> str:
    return "".join(_texts(content, where))


def _user_content(content: Any, where: str) -> str | list[dict[str, Any]]:
    if not isinstance(content, list):
        return _text(content, where)
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": str(part.get("text", ""))})
        elif kind == "image_url":
            image = part.get("image_url")
            image = {"url": image} if isinstance(image, str) else image
            if not isinstance(image, dict) or not isinstance(image.get("url"), str):
                raise ClientError(f"'{where}.content' has an image_url part without a url.",
                                  param=f"{where}.content")
            parts.append({"type": "image_url", "image_url": image})
        else:
            raise ClientError(
                f"'{where}.content' part of type {kind!r} is not accepted by Cohere "
                "(text and image_url are).",
                param=f"{where}.content",
            )
    return parts


def _tool(tool: dict[str, Any], index: int) -> dict[str, Any]:
    """Cohere's function tool is OpenAI's minus `strict`, which is per request there."""
    if not isinstance(tool, dict) or tool.get("type") != "function":
        raise ClientError("Cohere accepts only function tools.", param=f"tools[{index}]")
    function = tool.get("function")
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise ClientError(f"'tools[{index}].function.name' is required.", param=f"tools[{index}].function")
    kept = {key: function[key] for key in ("name", "description", "parameters") if key in function}
    return {"type": "function", "function": kept}


def _tool_choice(body: dict[str, Any], choice: Any) -> None:
    """`required`/`none` map directly; a named function becomes REQUIRED with only that tool."""
    if choice is None or choice == "auto":
        return
    if choice == "required":
        body["tool_choice"] = "REQUIRED"
    elif choice == "none":
        body["tool_choice"] = "NONE"
    elif isinstance(choice, dict) and choice.get("type") == "function":
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        chosen = [t for t in body.get("tools", []) if t["function"]["name"] == name]
        if not chosen:
            raise ClientError(f"tool_choice names '{name}', which is not in 'tools'.",
                              param="tool_choice")
        body["tools"] = chosen
        body["tool_choice"] = "REQUIRED"
    else:
        raise ClientError("'tool_choice' must be auto, required, none or a function.",
                          param="tool_choice")


def _response_format(spec: dict[str, Any]) -> dict[str, Any]:
    kind = spec.get("type")
    if kind == "json_schema":
        described = spec.get("json_schema")
        schema = described.get("schema") if isinstance(described, dict) else None
        return {"type": "json_object", "json_schema": schema} if schema else {"type": "json_object"}
    if kind in ("json_object", "text"):
        return {"type": kind}
    raise ClientError(f"response_format type {kind!r} is not supported by Cohere.",
                      param="response_format")


# -- answers ------------------------------------------------------------------


def chat_response(data: dict[str, Any], model: str, provider: str) -> ChatResponse:
    message = data.get("message") or {}
    text, thinking = "", ""
    content = message.get("content") or []
    for item in [{"type": "text", "text": content}] if isinstance(content, str) else content:
        if item.get("type") == "text":
            text += str(item.get("text", ""))
        elif item.get("type") == "thinking":
            thinking += str(item.get("thinking", ""))
    calls = [
        {"id": call.get("id"), "type": "function",
         "function": {"name": (call.get("function") or {}).get("name"),
                      "arguments": (call.get("function") or {}).get("arguments") or "{}"}}
        for call in message.get("tool_calls") or []
    ]
    if calls and not text:
        text = message.get("tool_plan") or ""
    out: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else ""),
                           "refusal": None}
    if calls:
        out["tool_calls"] = calls
    if thinking:
        out["reasoning_content"] = thinking
    answer: ChatResponse = {
        "id": str(data.get("id") or ""),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": out, "logprobs": None,
                     "finish_reason": finish_reason(data.get("finish_reason"), provider)}],
    }
    counted = usage(data.get("usage"))
    if counted:
        answer["usage"] = counted  # type: ignore[typeddict-item]
    return answer


# -- embeddings ---------------------------------------------------------------


def embed_request(request: EmbeddingRequest, model: str) -> dict[str, Any]:
    raw = request.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise ClientError("Cohere embeds text: 'input' must be a string or an array of strings.",
                          param="input")
    body: dict[str, Any] = {
        "model": model,
        "texts": texts,
        "input_type": request.get("input_type") or DEFAULT_INPUT_TYPE,
        "embedding_types": ["float"],
    }
    if request.get("dimensions"):
        body["output_dimension"] = request["dimensions"]
    return body


def embed_response(data: dict[str, Any], model: str, encoding: str | None) -> dict[str, Any]:
    vectors = (data.get("embeddings") or {}).get("float") or []
    billed = ((data.get("meta") or {}).get("billed_units") or {}).get("input_tokens") or 0
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i,
             "embedding": _base64(vector) if encoding == "base64" else vector}
            for i, vector in enumerate(vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": int(billed), "total_tokens": int(billed)},
    }


def _base64(vector: list[float]) -> str:
    """OpenAI's base64 encoding: little-endian float32s (the openai SDK asks for it by default)."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
