"""Where a provider's API key comes from, without ever printing it.

Lookup for `api_key: keyring` (the default): the provider's usual environment
variable, then the OS keyring (service `llmp`, username = provider name), then
the opt-in key file (`llmp keys set NAME --file`). `env:VAR` reads one
variable; `none` means the provider takes no key; anything else is a literal
key written in the config (allowed, warned about). Every key found is
registered with the redactor, so no log line or error can show it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llmp.core import key_file, keyring_store
from llmp.core.presets import PRESETS
from llmp.core.redact import mask, register_secret

if TYPE_CHECKING:  # the schema (pydantic) is not needed to find a key, only to describe one
    from llmp.core.config_schema import ProviderConfig

KEYRING_SERVICE = keyring_store.SERVICE
STATE_WORDS = {"none": "not needed"}
__all__ = ["KEYRING_SERVICE", "STATE_WORDS", "ResolvedKey", "key_env_vars", "mask",
           "missing_key_message", "read_together", "resolve_key", "resolve_secret"]


@dataclass(frozen=True)
class ResolvedKey:
    value: str | None
    source: str  # environment | keyring | file | config | none | missing | keyring refused
    variable: str | None = None  # the environment variable it came from, or would come from
    problem: str = ""  # why a key that may be there could not be read

    @property
    def present(self) -> bool:
        return bool(self.value)

    @property
    def state(self) -> str:
        """The one phrase every command uses for where a key is: `keyring`, `env OPENAI_API_KEY`,
        `file`, `config`, `not needed` or `missing`."""
        if self.source == "environment":
            return f"env {self.variable}" if self.variable else "env"
        return STATE_WORDS.get(self.source, self.source)

    @property
    def masked(self) -> str:
        return mask(self.value) if self.value else "-"


def missing_key_message(name: str, variable: str | None) -> str:
    """What every part of llmp says about a provider that needs a key and has none."""
    variable = variable or name.upper().replace("-", "_") + "_API_KEY"
    return f"no API key for provider '{name}': set {variable} or run `llmp keys set {name}`"


def key_env_vars(name: str, provider: ProviderConfig) -> tuple[str, ...]:
    return preset_key_env(name, provider.preset)


def preset_key_env(name: str, preset_name: str | None = None) -> tuple[str, ...]:
    """The environment variables a provider's key may be in: its preset's, then NAME_API_KEY."""
    preset = PRESETS.get(preset_name or name)
    generic = name.upper().replace("-", "_") + "_API_KEY"
    names = preset.key_env if preset else ()
    return names if generic in names else (*names, generic)


def in_environment(variables: Iterable[str]) -> bool:
    return any(os.environ.get(variable) for variable in variables)


def resolve_secret(spec: str, username: str, env_vars: tuple[str, ...]) -> ResolvedKey:
    """A secret from its spec: `keyring` (env vars, keyring, key file), `env:VAR`, `none`, literal."""
    spec = spec.strip()
    if spec.lower() == "none":
        return ResolvedKey(None, "none")
    if spec.startswith("env:"):
        found = _found(os.environ.get(spec[4:]), "environment", spec[4:])
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
            return ResolvedKey(value, "environment", variable)
    try:
        value = keyring_store.get(username)
    except keyring_store.KeyringRefused as exc:
        found = _found(key_file.get(username), "file", env_vars[0] if env_vars else None)
        return found if found.present else ResolvedKey(
            None, "keyring refused", env_vars[0] if env_vars else None, problem=str(exc))
    if value:
        return ResolvedKey(value, "keyring")
    return _found(key_file.get(username), "file", env_vars[0] if env_vars else None)


def _found(value: str | None, source: str, variable: str | None = None) -> ResolvedKey:
    """`variable` names, for a missing key, the environment variable a user would set."""
    return ResolvedKey(value, source, variable) if value else ResolvedKey(None, "missing", variable)


@contextlib.contextmanager
def read_together(providers: Mapping[str, ProviderConfig]) -> Iterator[None]:
    """Within the block, resolving these providers' keys asks the keyring once for all of them."""
    with secrets_read_together((provider.api_key, name, key_env_vars(name, provider))
                               for name, provider in providers.items() if provider.type != "mock"):
        yield


@contextlib.contextmanager
def secrets_read_together(secrets: Iterable[tuple[str, str, tuple[str, ...]]]) -> Iterator[None]:
    """Within the block, resolving these secrets (spec, username, env_vars: what `resolve_secret`
    takes) asks the keyring once for all of them: in the daemon one child process, not one
    per name. Only those that may be there are asked for: the spec is `keyring` and the
    secret is not already in its environment variable.
    """
    with keyring_store.remembering():
        keyring_store.read([username for spec, username, env_vars in secrets
                            if spec.strip() == "keyring" and not in_environment(env_vars)])
        yield


def resolve_key(name: str, provider: ProviderConfig) -> ResolvedKey:
    if provider.type == "mock":
        return ResolvedKey(None, "none")
    found = resolve_secret(provider.api_key, name, key_env_vars(name, provider))
    if found.problem:
        variables = key_env_vars(name, provider)
        return ResolvedKey(None, found.source, variables[0], problem=f"{found.problem} ({variables[0]})")
    if found.source != "missing" or provider.api_key.strip() != "keyring":
        return found
    preset = PRESETS.get(provider.preset or name)
    needs_key = preset.needs_key if preset else provider.type != "openai" or not _is_local(provider)
    return ResolvedKey(None, "missing" if needs_key else "none", found.variable)


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
