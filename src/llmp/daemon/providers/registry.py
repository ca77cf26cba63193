"""The explicit list of adapter types. Adding a provider adds one line here.

Third-party adapters can register under the entry-point group `llmp.providers`
(`name = "package.module:ProviderClass"`); built-in names win over them.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from llmp.daemon.providers.anthropic import AnthropicProvider
from llmp.daemon.providers.azure import AzureOpenAIProvider
from llmp.daemon.providers.base import Provider
from llmp.daemon.providers.cohere import CohereProvider
from llmp.daemon.providers.gemini import GeminiProvider
from llmp.daemon.providers.mock import MockProvider
from llmp.daemon.providers.openai_compat import OpenAICompatibleProvider

BUILTIN: dict[str, type[Provider]] = {
    "openai": OpenAICompatibleProvider,
    "mock": MockProvider,
    "azure": AzureOpenAIProvider,
    "cohere": CohereProvider,
    "gemini": GeminiProvider,
    "anthropic": AnthropicProvider,
}


def adapter_for(type_name: str) -> type[Provider]:
    adapter = BUILTIN.get(type_name)
    if adapter is not None:
        return adapter
    for entry in entry_points(group="llmp.providers"):
        if entry.name == type_name:
            loaded = entry.load()
            if isinstance(loaded, type) and issubclass(loaded, Provider):
                return loaded
    raise LookupError(f"no adapter for provider type '{type_name}'")
