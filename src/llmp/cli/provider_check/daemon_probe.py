"""Checking providers through the running daemon, the way every client reaches them.

Completions, streams and embeddings go through `/v1` with `provider/model`
names, exactly as an SDK would send them; the key and the upstream's model
listing come from the admin endpoint `/admin/probe/{provider}`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from llmp.cli.openai_answers import AnswerError, delta_text, error_of, read_event
from llmp.cli.provider_check.probe import (
    EMBEDDING_INPUT,
    Facts,
    ProbeError,
    chat_request,
    kind_of,
)
from llmp.core.state import DaemonState


class DaemonProbe:
    def __init__(self, state: DaemonState, timeout: float) -> None:
        import httpx

        self.state = state
        self._http = httpx.AsyncClient(base_url=state.base_url, timeout=timeout + 5)
        self._admin = {"Authorization": f"Bearer {state.token}"}

    async def close(self) -> None:
        await self._http.aclose()

    async def names(self) -> list[str]:
        data = await self._json("GET", "/admin/providers", headers=self._admin)
        return [str(p["name"]) for p in data.get("providers") or [] if isinstance(p, dict)]

    async def facts(self, provider: str) -> Facts:
        from urllib.parse import quote

        data = await self._json("GET", "/admin/probe/" + quote(provider, safe=""),
                                headers=self._admin)
        key = data.get("key") or {}
        facts = Facts(
            name=provider, type=str(data.get("type")), enabled=bool(data.get("enabled", True)),
            operations=list(data.get("operations") or []), models=list(data.get("models") or []),
            key_present=bool(key.get("present")), key_source=str(key.get("source")),
            key_state=str(key.get("state") or key.get("source")), key_variable=key.get("variable"),
            key_missing=bool(key.get("missing", key.get("source") == "missing")),
        )
        upstream = data.get("upstream") or {}
        if upstream.get("ok"):
            facts.upstream_models = [str(m) for m in upstream.get("models") or []]
        else:
            facts.upstream_error = ProbeError(
                str(upstream.get("kind")), str(upstream.get("message")), upstream.get("status"))
        return facts

    async def complete(self, provider: str, model: str) -> None:
        await self._json("POST", "/v1/chat/completions", json=_chat(provider, model, False))

    async def stream(self, provider: str, model: str) -> AsyncIterator[str]:
        import httpx

        try:
            async with self._http.stream(
                "POST", "/v1/chat/completions", json=_chat(provider, model, True)
            ) as response:
                if response.status_code >= 400:
                    raise _error(response.status_code, await response.aread())
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    yield _text_of(data)
        except httpx.HTTPError as exc:
            raise self._transport(exc) from None
        raise ProbeError("incomplete", "the stream ended without [DONE]")

    async def embed(self, provider: str, model: str) -> None:
        await self._json("POST", "/v1/embeddings",
                         json={"model": f"{provider}/{model}", "input": [EMBEDDING_INPUT]})

    async def _json(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        import httpx

        try:
            response = await self._http.request(method, path, **options)
        except httpx.HTTPError as exc:
            raise self._transport(exc) from None
        if response.status_code >= 400:
            raise _error(response.status_code, response.content)
        try:
            data = response.json()
        except ValueError:
            raise ProbeError("incomplete", "the answer is not JSON", response.status_code) from None
        return data if isinstance(data, dict) else {}

    def _transport(self, exc: Exception) -> ProbeError:
        return ProbeError("connection", f"the daemon at {self.state.base_url} did not answer "
                          f"({type(exc).__name__})")


def _chat(provider: str, model: str, stream: bool) -> dict[str, Any]:
    return {**chat_request(f"{provider}/{model}"), "stream": stream}


def _text_of(data: str) -> str:
    try:
        return delta_text(read_event(data))
    except AnswerError as error:
        raise ProbeError(kind_of(500, error.error_type), error.message) from None


def _error(status: int, content: bytes) -> ProbeError:
    error = error_of(status, content)
    return ProbeError(kind_of(status, error.error_type), error.message, status)
