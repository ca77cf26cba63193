"""Cheap checks of what Anthropic clients send to `/v1/messages`, before translating it.

Routing needs only a JSON object and a model name; that is all an Anthropic
provider's pass-through checks, so the upstream judges everything else and its
own error comes back. These checks run only when the request is translated for
another kind of provider, and cover just the shape the translation relies on.
Each failure names the field the way Anthropic does (`messages.1.content`).
"""

from __future__ import annotations

from typing import Any

from llmp.daemon.api.validation import (
    BOOLEAN,
    Check,
    check_parameters,
    integer_in,
    number_in,
    require_model,
)
from llmp.daemon.errors import ClientError

TOOL_CHOICES = {"auto", "any", "tool", "none"}
# Current clients (Claude Code among them) put instructions inside `messages` too.
INSTRUCTION_ROLES = ("system", "developer")
ROLES = ("user", "assistant", *INSTRUCTION_ROLES)
PARAMETERS: dict[str, Check] = {
    "max_tokens": integer_in(1, 10_000_000), "stream": BOOLEAN, "temperature": number_in(0, 1),
    "top_p": number_in(0, 1), "top_k": integer_in(0, 1_000_000),
}


def validate_messages(body: dict[str, Any], *, count_only: bool = False) -> None:
    require_model(body)
    if not count_only and body.get("max_tokens") is None:
        raise ClientError("max_tokens: Field required", param="max_tokens")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ClientError("messages: must be a non-empty array of messages", param="messages")
    for index, message in enumerate(messages):
        _message(message, f"messages.{index}")
    _system(body.get("system"))
    check_parameters(body, PARAMETERS)
    stops = body.get("stop_sequences")
    if stops is not None and (
        not isinstance(stops, list) or not all(isinstance(s, str) for s in stops)
    ):
        raise ClientError("stop_sequences: must be an array of strings", param="stop_sequences")
    _tools(body.get("tools"))
    _tool_choice(body.get("tool_choice"))
    for name in ("metadata", "thinking", "output_config"):
        if body.get(name) is not None and not isinstance(body[name], dict):
            raise ClientError(f"{name}: must be an object", param=name)


def _message(message: Any, where: str) -> None:
    if not isinstance(message, dict):
        raise ClientError(f"{where}: must be an object with role and content", param=where)
    role = message.get("role")
    if role not in ROLES:
        raise ClientError(
            f"{where}.role: must be one of 'user', 'assistant', 'system' or 'developer', "
            f"got {role!r}", param=f"{where}.role",
        )
    _blocks(message.get("content"), f"{where}.content", allow_string=True)
    if role in INSTRUCTION_ROLES:
        _text_only(message["content"], f"{where}.content")


def _blocks(content: Any, where: str, *, allow_string: bool) -> None:
    if allow_string and isinstance(content, str):
        return
    if not isinstance(content, list):
        kind = "a string or an array of content blocks" if allow_string else "an array of blocks"
        raise ClientError(f"{where}: must be {kind}", param=where)
    for index, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise ClientError(f"{where}.{index}: must be a content block with a 'type'",
                              param=f"{where}.{index}")
        if block["type"] == "text" and not isinstance(block.get("text"), str):
            raise ClientError(f"{where}.{index}.text: must be a string", param=f"{where}.{index}.text")


def _system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    _blocks(system, "system", allow_string=False)
    _text_only(system, "system")


def _text_only(content: Any, where: str) -> None:
    if isinstance(content, str):
        return
    for index, block in enumerate(content):
        if block["type"] != "text":
            raise ClientError(f"{where}.{index}: instructions must be text blocks",
                              param=f"{where}.{index}")


def _tools(tools: Any) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise ClientError("tools: must be an array", param="tools")
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or not tool["name"]:
            raise ClientError(f"tools.{index}.name: Field required", param=f"tools.{index}.name")


def _tool_choice(choice: Any) -> None:
    if choice is None:
        return
    kind = choice.get("type") if isinstance(choice, dict) else None
    if not isinstance(kind, str) or kind not in TOOL_CHOICES:
        raise ClientError(
            "tool_choice: must be an object whose type is one of " + ", ".join(sorted(TOOL_CHOICES)),
            param="tool_choice",
        )
    if kind == "tool" and not isinstance(choice.get("name"), str):
        raise ClientError("tool_choice.name: Field required when type is 'tool'",
                          param="tool_choice.name")
