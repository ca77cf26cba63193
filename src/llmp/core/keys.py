"""Where a provider's API key comes from, without ever printing it.

Lookup for `api_key: keyring` (the default): the provider's usual environment
variable, then the OS keyring (service `llmp`, username = provider name), then
the opt-in key file (`llmp keys set NAME --file`). `env:VAR` reads one
variable; `none` means the provider takes no key; anything else is a literal
key written in the config (allowed, warned about). Every key found is
registered with the redactor, so no log line or error can show it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from llmp.core import key_file, keyring_store
from llmp.core.config_schema import ProviderConfig
from llmp.core.presets import PRESETS
from llmp.core.redact import mask, register_secret

KEYRING_SERVICE = keyring_store.SERVICE
__all__ = ["KEYRING_SERVICE", "ResolvedKey", "key_env_vars", "mask", "resolve_key", "resolve_secret"]


@dataclass(frozen=True)
class ResolvedKey:
    value: str | None
    source: str  # environment | keyring | file | config | none | missing | keyring refused
    problem: str = ""  # why a key that may be there could not be read

    @property
    def present(self) -> bool:
        return bool(self.value)

    @property
    def masked(self) -> str:
        return mask(self.value) if self.value else "-"


def key_env_vars(name: str, provider: ProviderConfig) -> tuple[str, ...]:
    preset = PRESETS.get(provider.preset or name)
    generic = name.upper().replace("-", "_") + "_API_KEY"
    names = preset.key_env if preset else ()
    return names if generic in names else (*names, generic)


def resolve_secret(spec: str, username: str, env_vars: tuple[str, ...]) -> ResolvedKey:
    """A secret from its spec: `keyring` (env vars, keyring, key file), `env:VAR`, `none`, literal."""
    spec = spec.strip()
    if spec.lower() == "none":
        return ResolvedKey(None, "none")
    if spec.startswith("env:"):
        found = _found(os.environ.get(spec[4:]), "environment")
    elif spec != "keyring":
        found = _found(spec, "config")
    else:
        found = _lookup(username, env_vars)
    register_secret(found.value)
    return found


def _lookup(username: str, env_vars: tuple[str, ...]) -> ResolvedKey:
    for variable in env_vars:
        value = os.environ.get(variable)
        if value:
            return ResolvedKey(value, "environment")
    try:
        value = keyring_store.get(username)
    except keyring_store.KeyringRefused as exc:
        found = _found(key_file.get(username), "file")
        return found if found.present else ResolvedKey(None, "keyring refused", str(exc))
    if value:
        return ResolvedKey(value, "keyring")
    return _found(key_file.get(username), "file")


def _found(value: str | None, source: str) -> ResolvedKey:
    return ResolvedKey(value, source) if value else ResolvedKey(None, "missing")


def resolve_key(name: str, provider: ProviderConfig) -> ResolvedKey:
    if provider.type == "mock":
        return ResolvedKey(None, "none")
    found = resolve_secret(provider.api_key, name, key_env_vars(name, provider))
    if found.problem:
        variables = key_env_vars(name, provider)
        return ResolvedKey(None, found.source, f"{found.problem} ({variables[0]})")
    if found.source != "missing" or provider.api_key.strip() != "keyring":
        return found
    preset = PRESETS.get(provider.preset or name)
    needs_key = preset.needs_key if preset else provider.type != "openai" or not _is_local(provider)
    return ResolvedKey(None, "missing" if needs_key else "none")


def key_advice(name: str, provider: ProviderConfig, key: ResolvedKey) -> str:
    """Where the key a provider uses comes from, and what changes it: advice after a refusal.

    `llmp keys set` is only right for a key from the keyring (or key file): a
    key from the environment wins over it and needs a restart, one written in
    the config needs the file edited and a reload.
    """
    spec = provider.api_key.strip()
    if key.source == "environment":
        variable = spec[4:] if spec.startswith("env:") else next(
            (v for v in key_env_vars(name, provider) if os.environ.get(v)), "its variable")
        return (f"the key comes from the environment variable {variable} of the daemon; "
                "change it there and restart llmp (llmp stop && llmp start)")
    if key.source == "config":
        return "the key is written in the config file; edit it there, then run `llmp reload`"
    return f"set a new one with `llmp keys set {name}`"


def _is_local(provider: ProviderConfig) -> bool:
    url = provider.base_url or ""
    return "://127." in url or "://localhost" in url or "://[::1]" in url
