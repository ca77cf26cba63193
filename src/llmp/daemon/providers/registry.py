"""The explicit list of adapter types. Adding a provider adds one line here.

Each adapter is named by module and class and imported only when a provider
of its type is configured: an idle daemon with the mock alone holds none of
the translating adapters (about 2 MiB). Third-party adapters can register
under the entry-point group `llmp.providers` (`name = "package.module:ProviderClass"`);
built-in names win over them.
"""

from __future__ import annotations

from importlib import import_module

from llmp.daemon.providers.base import Provider

BUILTIN: dict[str, str] = {
    "openai": "llmp.daemon.providers.openai_compat:OpenAICompatibleProvider",
    "mock": "llmp.daemon.providers.mock:MockProvider",
    "azure": "llmp.daemon.providers.azure:AzureOpenAIProvider",
    "cohere": "llmp.daemon.providers.cohere:CohereProvider",
    "gemini": "llmp.daemon.providers.gemini:GeminiProvider",
    "anthropic": "llmp.daemon.providers.anthropic:AnthropicProvider",
}


def adapter_for(type_name: str) -> type[Provider]:
    where = BUILTIN.get(type_name)
    if where is not None:
        module, _, name = where.partition(":")
        adapter: type[Provider] = getattr(import_module(module), name)
        return adapter
    from importlib.metadata import entry_points

    for entry in entry_points(group="llmp.providers"):
        if entry.name == type_name:
            loaded = entry.load()
            if isinstance(loaded, type) and issubclass(loaded, Provider):
                return loaded
    raise LookupError(f"no adapter for provider type '{type_name}'")
