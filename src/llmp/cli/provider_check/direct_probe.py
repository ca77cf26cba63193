"""Checking providers straight from this process, bypassing the daemon (`llmp test --direct`).

It runs the daemon's own adapters, built from the same config file, so the
requests are byte for byte what the daemon would send: when `--direct` passes
and the daemon path fails, the problem is the proxy, not the provider. This
module is imported only for `--direct`, because it brings in aiohttp.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from llmp.cli.provider_check.probe import EMBEDDING_INPUT, Facts, ProbeError, chat_request
from llmp.core.config_schema import Config
from llmp.daemon.errors import UpstreamError
from llmp.daemon.providers.base import Provider
from llmp.daemon.providers.registry import adapter_for


class DirectProbe:
    def __init__(self, config: Config) -> None:
        self.providers: dict[str, Provider] = {
            name: adapter_for(spec.type or "openai")(name, spec)
            for name, spec in config.providers.items()
        }

    async def start(self) -> None:
        for provider in self.providers.values():
            await provider.start()

    async def close(self) -> None:
        for provider in self.providers.values():
            await provider.close()

    async def names(self) -> list[str]:
        return list(self.providers)

    def _provider(self, name: str) -> Provider:
        provider = self.providers.get(name)
        if provider is None:
            raise ProbeError("not_found", f"unknown provider '{name}'")
        return provider

    async def facts(self, name: str) -> Facts:
        provider = self._provider(name)
        facts = Facts(
            name=name, type=provider.type_name, enabled=provider.config.enabled,
            operations=sorted(provider.operations), models=list(provider.config.models),
            key_present=provider.key.present, key_source=provider.key.source,
            key_state=provider.key.state, key_variable=provider.key.variable,
            key_missing=provider.key_missing,
            secrets=[provider.key.value] if provider.key.value else [],
        )
        try:
            if provider.key_missing:  # the upstream is never called without its key
                raise provider.missing_key_error()
            facts.upstream_models = await provider.list_models()
        except UpstreamError as error:
            facts.upstream_error = _probe_error(error)
        return facts

    async def complete(self, name: str, model: str) -> None:
        try:
            await self._provider(name).chat(chat_request(model), model)  # type: ignore[arg-type]
        except UpstreamError as error:
            raise _probe_error(error) from None

    async def stream(self, name: str, model: str) -> AsyncIterator[str]:
        try:
            chunks = await self._provider(name).chat_stream(chat_request(model), model)  # type: ignore[arg-type]
            try:
                async for chunk in chunks:
                    choices = chunk.get("choices") or [{}]
                    yield str((choices[0].get("delta") or {}).get("content") or "")
            finally:
                await chunks.aclose()  # type: ignore[attr-defined]
        except UpstreamError as error:
            raise _probe_error(error) from None

    async def embed(self, name: str, model: str) -> None:
        try:
            await self._provider(name).embeddings(
                {"model": model, "input": [EMBEDDING_INPUT]}, model)
        except UpstreamError as error:
            raise _probe_error(error) from None


def _probe_error(error: UpstreamError) -> ProbeError:
    return ProbeError(error.kind.value, error.message, error.status)
