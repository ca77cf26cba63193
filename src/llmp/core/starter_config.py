"""The config files llmp can write for a user: the shipped full example, and a short starter.

The full example (`llmp/data/config.example.yaml`) is the one copy of "every
option, with its default": it ships inside the package so a user of the wheel
or of a one-file build can get it (`llmp config init --full`), and the schema
tests read that same file. The starter is what a newcomer needs on day one: the
`mock` provider, and an entry for every provider whose key is already in the
environment or the keyring, each saying where its key comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

from llmp.core.builtin_config import MOCK_MODELS
from llmp.core.config_schema import ProviderConfig
from llmp.core.keys import key_env_vars, resolve_key
from llmp.core.presets import PRESETS, apply_preset


def example_text() -> str:
    """The shipped `config.example.yaml`: every option, commented, with its default."""
    return (files("llmp") / "data" / "config.example.yaml").read_text(encoding="utf-8")


@dataclass(frozen=True)
class FoundProvider:
    name: str
    key_state: str  # the key-state vocabulary of core.keys: `env OPENAI_API_KEY`, `keyring`, ...


def providers_with_keys() -> list[FoundProvider]:
    """Every hosted preset whose key is present now (environment, keyring or key file)."""
    found = []
    for name, preset in PRESETS.items():
        if not preset.needs_key or preset.base_url is None:
            continue  # azure needs a URL only its user knows; local servers need no key
        provider = ProviderConfig()
        apply_preset(name, provider)
        key = resolve_key(name, provider)
        if key.present:
            found.append(FoundProvider(name, key.state))
    return found


def starter_text(found: list[FoundProvider]) -> str:
    """A short, commented config: server basics, the mock, and the providers found."""
    mock_models = ", ".join(MOCK_MODELS)
    lines = [
        "# llmp configuration, written by `llmp config init`.",
        "# Every option with its default: `llmp config init --full` writes the complete example.",
        "# Check this file: llmp config validate.  Apply it to a running daemon: llmp reload.",
        "# ${VAR} and ${VAR:-default} are replaced from the environment.",
        "",
        "server:",
        "  host: 127.0.0.1          # LLMP_HOST; a non-loopback address also needs server.auth",
        "  port: 8484               # LLMP_PORT, or llmp start --port; 0 = any free port",
        "",
        "providers:",
        "  mock:                    # answers locally without a key: llmp chat -m mock-1 \"hi\"",
        "    type: mock",
        f"    models: [{mock_models}]",
    ]
    for provider in found:
        lines += [
            f"  {provider.name}:{' ' * max(1, 22 - len(provider.name))}# key found: {provider.key_state}",
            "    api_key: keyring       # its environment variable, then the keyring, then the key file",
            '    models: ["*"]          # or list the models clients may ask for',
        ]
    missing = [name for name, preset in PRESETS.items()
               if preset.needs_key and preset.base_url is not None
               and name not in {p.name for p in found}]
    if missing:
        lines += ["", "  # More providers: uncomment one and give it a key with `llmp keys set NAME`"
                  " (or its environment variable)."]
        for name in missing:
            variable = key_env_vars(name, ProviderConfig())[0]
            lines.append(f"  # {name}: {{}}{' ' * max(1, 20 - len(name))}# key: {variable}")
    lines += [
        "",
        "# models:                 # aliases: one name for a list of provider/model targets",
        "#   chat:",
        "#     targets: [mock/mock-1]",
        "",
    ]
    return "\n".join(lines)
