"""Where a provider's API key comes from, without ever printing it.

Lookup for `api_key: keyring` (the default): the provider's usual environment
variable, then the OS keyring (service `llmp`, username = provider name).
`env:VAR` reads one variable; `none` means the provider takes no key; anything
else is a literal key written in the config (allowed, warned about).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from llmp.core.config_schema import ProviderConfig
from llmp.core.presets import PRESETS

KEYRING_SERVICE = "llmp"


@dataclass(frozen=True)
class ResolvedKey:
    value: str | None
    source: str  # environment | keyring | config | none | missing

    @property
    def present(self) -> bool:
        return bool(self.value)

    @property
    def masked(self) -> str:
        return mask(self.value) if self.value else "-"


def mask(secret: str) -> str:
    """`sk-…abcd`: enough to tell two keys apart, never enough to use one."""
    if len(secret) <= 8:
        return "…"
    prefix = secret[:3] if secret[:3].isascii() else ""
    return f"{prefix}…{secret[-4:]}"


def key_env_vars(name: str, provider: ProviderConfig) -> tuple[str, ...]:
    preset = PRESETS.get(provider.preset or name)
    generic = name.upper().replace("-", "_") + "_API_KEY"
    names = preset.key_env if preset else ()
    return names if generic in names else (*names, generic)


def resolve_key(name: str, provider: ProviderConfig) -> ResolvedKey:
    spec = provider.api_key.strip()
    if spec.lower() == "none" or provider.type == "mock":
        return ResolvedKey(None, "none")
    if spec.startswith("env:"):
        value = os.environ.get(spec[4:])
        return ResolvedKey(value, "environment" if value else "missing")
    if spec != "keyring":
        return ResolvedKey(spec, "config")
    for variable in key_env_vars(name, provider):
        value = os.environ.get(variable)
        if value:
            return ResolvedKey(value, "environment")
    value = keyring_get(name)
    if value:
        return ResolvedKey(value, "keyring")
    preset = PRESETS.get(provider.preset or name)
    needs_key = preset.needs_key if preset else provider.type != "openai" or not _is_local(provider)
    return ResolvedKey(None, "missing" if needs_key else "none")


def _is_local(provider: ProviderConfig) -> bool:
    url = provider.base_url or ""
    return "://127." in url or "://localhost" in url or "://[::1]" in url


def keyring_get(username: str) -> str | None:
    """The keyring's entry, or None when there is none or no usable keyring at all."""
    try:
        import keyring

        return keyring.get_password(KEYRING_SERVICE, username)
    except Exception:  # any backend failure means "no key here", never a crash
        return None
