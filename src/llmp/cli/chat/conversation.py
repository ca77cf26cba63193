"""The conversation a chat session holds: messages, settings, running totals, and its file form.

Kept apart from the terminal so that `/save` and `/load` write and read exactly
what is sent to the daemon, and so one-shot and interactive chats build their
requests the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmp.cli.chat.client import ChatError, Reply

FILE_VERSION = 1


@dataclass
class Totals:
    replies: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    cost_known: bool = False

    def add(self, reply: Reply) -> None:
        self.replies += 1
        usage = reply.usage or {}
        self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        self.completion_tokens += int(usage.get("completion_tokens") or 0)
        if reply.cost is not None:
            self.cost += reply.cost
            self.cost_known = True


@dataclass
class Conversation:
    model: str
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    totals: Totals = field(default_factory=Totals)
    #: A prompt whose reply failed: `/retry` sends it again.
    unanswered: str | None = None

    def request(self) -> dict[str, Any]:
        messages = [{"role": "system", "content": self.system}] if self.system else []
        body: dict[str, Any] = {"model": self.model, "messages": messages + self.messages}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        return body

    def ask(self, prompt: str) -> None:
        self.messages.append({"role": "user", "content": prompt})
        self.unanswered = None

    def answered(self, reply: Reply) -> None:
        """Keep the reply, even a stopped one: what the user saw is what the model will see."""
        if reply.text or not reply.interrupted:
            self.messages.append({"role": "assistant", "content": reply.text})
        else:
            self.unanswered = self._forget_prompt()
        self.totals.add(reply)

    def failed(self) -> None:
        self.unanswered = self._forget_prompt()

    def retry_prompt(self) -> str | None:
        """The prompt to send again, taken back out of the history with its reply."""
        if self.unanswered is not None:
            prompt, self.unanswered = self.unanswered, None
            return prompt
        if self.messages and self.messages[-1]["role"] == "assistant":
            self.messages.pop()
        return self._forget_prompt()

    def _forget_prompt(self) -> str | None:
        if self.messages and self.messages[-1]["role"] == "user":
            content = self.messages.pop()["content"]
            return content if isinstance(content, str) else json.dumps(content)
        return None

    def clear(self) -> None:
        self.messages.clear()
        self.unanswered = None

    def save(self, path: Path) -> None:
        data = {"version": FILE_VERSION, "model": self.model, "system": self.system,
                "messages": self.messages}
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def load(self, path: Path) -> None:
        """Replace model, system prompt and messages with the file's; a bad file changes nothing."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ChatError(f"cannot read {path}: {exc.strerror}") from None
        except ValueError as exc:
            raise ChatError(f"{path} is not JSON: {exc}") from None
        messages = data.get("messages") if isinstance(data, dict) else None
        if not isinstance(messages, list) or not all(_is_message(m) for m in messages):
            raise ChatError(f"{path} is not a saved conversation (expected 'messages': "
                            "[{role, content}, ...])")
        system = data.get("system")
        if system is not None and not isinstance(system, str):
            raise ChatError(f"{path}: 'system' must be a string")
        self.messages = [m for m in messages if m["role"] != "system"]
        self.system = system or next(
            (m["content"] for m in messages if m["role"] == "system"), None)
        if isinstance(data.get("model"), str) and data["model"]:
            self.model = data["model"]
        self.unanswered = None


def _is_message(value: Any) -> bool:
    return (isinstance(value, dict) and value.get("role") in ("system", "user", "assistant", "tool")
            and isinstance(value.get("content"), (str, list, type(None))))
