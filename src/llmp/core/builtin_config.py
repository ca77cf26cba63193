"""The configuration used when there is no config file: useful with no key at all.

It always has the `mock` provider; it adds every known provider whose key is
already in its usual environment variable or in the keyring. A local Ollama is
added by the daemon at start-up, because finding it means asking the network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmp.core.keys import in_environment, preset_key_env, read_together, resolve_key
from llmp.core.presets import PRESETS

if TYPE_CHECKING:
    from llmp.core.config_schema import Config

MOCK_MODELS = ["mock-1", "mock-echo"]


def _candidates() -> list[str]:
    """The presets that join the built-in config when their key is found."""
    return [name for name, preset in PRESETS.items() if preset.needs_key and preset.base_url is not None]


def keyring_names() -> list[str]:
    """The names the built-in config will ask the keyring for: known before the config (and
    pydantic) is loaded, so the daemon can start reading them first thing."""
    return [name for name in _candidates() if not in_environment(preset_key_env(name))]


def builtin_config() -> Config:
    from llmp.core.config_schema import Config, ProviderConfig
    from llmp.core.presets import apply_preset

    config = Config()
    config.providers["mock"] = ProviderConfig(type="mock", models=list(MOCK_MODELS))
    candidates: dict[str, ProviderConfig] = {}
    for name in _candidates():
        candidates[name] = provider = ProviderConfig()
        apply_preset(name, provider)
    with read_together(candidates):
        config.providers.update(
            (name, provider) for name, provider in candidates.items() if resolve_key(name, provider).present)
    return config
