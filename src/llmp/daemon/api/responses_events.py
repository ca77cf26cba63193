"""Canonical answers written back as Responses API objects and stream events.

A chat answer is one message with text, reasoning and tool calls side by
side; a response is a list of output items: a `reasoning` item, a `message`
item holding one `output_text` part, and one `function_call` item per tool
call, in the order they arrived. The stream writer opens and closes those
items as the canonical deltas switch between them, numbering every event
(`sequence_number`) as OpenAI does, and ends with `response.completed` once the
canonical stream ends (usage arrives last there).
"""

from __future__ import annotations

from typing import Any

import orjson

from llmp.daemon.api.responses_inbound import Call

_STATUS_OF_FINISH = {"length": "incomplete", "content_filter": "incomplete"}


def response_usage(usage: dict[str, Any] | None) -> dict[str, Any]:
    usage = usage or {}
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    reasoning = int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)
    return {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": completion, "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": int(usage.get("total_tokens") or prompt + completion)}


def response_object(call: Call, model: str, output: list[dict[str, Any]], status: str,
                    usage: dict[str, Any] | None, error: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `response` object, echoing the request's settings as OpenAI does; usage last."""
    body = call.body
    reasoning = body.get("reasoning") or {}
    return {
        "id": call.id, "object": "response", "created_at": call.created_at, "status": status,
        "background": False, "error": error,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
        "model": model or body.get("model"), "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": body.get("store", True), "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"), "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0), "truncation": "disabled", "user": body.get("user"),
        "metadata": body.get("metadata") or {},
        "usage": None if usage is None else response_usage(usage),
    }


def function_call_item(call: Call, item_id: str, call_id: str, flat_name: str,
                       arguments: str, status: str) -> dict[str, Any]:
    namespace, name = call.names.get(flat_name, (None, flat_name))
    item = {"type": "function_call", "id": item_id, "call_id": call_id, "name": name,
            "arguments": arguments, "status": status}
    if namespace:
        item["namespace"] = namespace
    return item


def message_item(item_id: str, text: str, status: str) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    return {"type": "message", "id": item_id, "status": status, "role": "assistant",
            "content": content if status == "completed" else []}


def reasoning_item(item_id: str, text: str) -> dict[str, Any]:
    return {"type": "reasoning", "id": item_id,
            "summary": [{"type": "summary_text", "text": text}] if text else []}


def _suffix(call: Call) -> str:
    return call.id.removeprefix("resp_")


def output_from_chat(call: Call, answer: dict[str, Any]) -> list[dict[str, Any]]:
    message = answer.get("message") or {}
    suffix = _suffix(call)
    output: list[dict[str, Any]] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if reasoning:
        output.append(reasoning_item(f"rs_{suffix}", str(reasoning)))
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(str(p.get("text") or "") for p in content if isinstance(p, dict))
    if content:
        output.append(message_item(f"msg_{suffix}", str(content), "completed"))
    for index, tool_call in enumerate(message.get("tool_calls") or []):
        function = tool_call.get("function") or {}
        call_id = str(tool_call.get("id") or f"call_{suffix}_{index}")
        output.append(function_call_item(call, f"fc_{suffix}_{index}", call_id,
                                         str(function.get("name") or ""),
                                         str(function.get("arguments") or ""), "completed"))
    return output


def response_from_chat(call: Call, response: dict[str, Any]) -> dict[str, Any]:
    choice = (response.get("choices") or [{}])[0]
    status = _STATUS_OF_FINISH.get(choice.get("finish_reason") or "stop", "completed")
    return response_object(call, str(response.get("model") or ""), output_from_chat(call, choice),
                           status, response.get("usage") or {})


def event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
