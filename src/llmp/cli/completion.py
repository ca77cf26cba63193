"""Shell completion of provider names, model names and aliases.

Names come from the config file (what `llmp start` would read) and, when a
daemon runs, from its `/v1/models` listing too (which adds models discovered
at start-up, such as a local Ollama's). A completion runs on every Tab press,
so it asks the daemon with a short timeout and never prints an error: a shell
cannot show one, and a broken completion must not break the command line.
"""

from __future__ import annotations

from typing import Any

DAEMON_TIMEOUT = 0.5


def _config() -> Any:
    import os

    from llmp.core.config_loader import load_config
    from llmp.core.paths import config_file_from_env, resolve_paths

    return load_config(config_file_from_env(resolve_paths()),
                       explicit=bool(os.environ.get("LLMP_CONFIG"))).config


def _daemon_models() -> list[str]:
    import httpx

    from llmp.cli.daemon_control import live_state
    from llmp.core.paths import resolve_paths

    state = live_state(resolve_paths())
    if state is None:
        return []
    answer = httpx.get(state.base_url + "/v1/models", timeout=DAEMON_TIMEOUT,
                       headers={"Authorization": f"Bearer {state.token}"})
    return [str(m["id"]) for m in answer.json().get("data") or [] if isinstance(m, dict) and "id" in m]


def _quietly(source: Any) -> list[str]:
    try:
        return list(source())
    except Exception:  # completion must never break the shell
        return []


def provider_names() -> list[str]:
    return _quietly(lambda: _config().providers)


def model_names() -> list[str]:
    """Aliases first, then provider/model for every listed model, then what the daemon serves."""

    def from_config() -> list[str]:
        config = _config()
        names = list(config.models)
        for provider, spec in config.providers.items():
            names += [f"{provider}/{model}" for model in spec.models if model != "*"]
        return names

    return list(dict.fromkeys([*_quietly(from_config), *_quietly(_daemon_models)]))


def complete_provider(incomplete: str) -> list[str]:
    return [name for name in provider_names() if name.startswith(incomplete)]


def complete_model(incomplete: str) -> list[str]:
    return [name for name in model_names() if name.startswith(incomplete)]


def complete_key_name(incomplete: str) -> list[str]:
    names = [*provider_names(), "jwt-secret"]
    names += _quietly(lambda: [f"client:{name}" for name in _config().server.auth.keys])
    return [name for name in names if name.startswith(incomplete)]
