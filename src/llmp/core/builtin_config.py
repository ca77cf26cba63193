"""The configuration used when there is no config file: useful with no key at all.

It always has the `mock` provider; it adds every known provider whose key is
already in its usual environment variable or in the keyring. A local Ollama is
added by the daemon at start-up, because finding it means asking the network.
"""

from __future__ import annotations

from llmp.core.config_loader import apply_preset
from llmp.core.config_schema import Config, ProviderConfig
from llmp.core.keys import read_together, resolve_key
from llmp.core.presets import PRESETS

MOCK_MODELS = ["mock-1", "mock-echo"]


def builtin_config() -> Config:
    config = Config()
    config.providers["mock"] = ProviderConfig(type="mock", models=list(MOCK_MODELS))
    candidates: dict[str, ProviderConfig] = {}
    for name, preset in PRESETS.items():
        if preset.needs_key and preset.base_url is not None:
            candidates[name] = provider = ProviderConfig()
            apply_preset(name, provider)
    with read_together(candidates):
        config.providers.update(
            (name, provider) for name, provider in candidates.items() if resolve_key(name, provider).present)
    return config
