"""Which model a chat uses when the user names none.

`-m/--model` wins, then `LLMP_MODEL`, then an alias called `chat` or `default`
in the config's `models:` section (so the choice lives in config.yaml without a
new option), then the first model the daemon lists that can chat and is not the
offline mock, and only then the mock. The daemon lists aliases first, then
`provider/model` names in config order, so "first" follows the user's own order.
"""

from __future__ import annotations

import os

from llmp.core.model_names import can_chat

PREFERRED_ALIASES = ("chat", "default")
__all__ = ["PREFERRED_ALIASES", "can_chat", "default_model"]


def default_model(available: list[str], flag: str | None = None) -> str | None:
    chosen = flag or os.environ.get("LLMP_MODEL", "").strip()
    if chosen:
        return chosen
    for alias in PREFERRED_ALIASES:
        if alias in available:
            return alias
    chat_models = [name for name in available if can_chat(name)]
    real = [name for name in chat_models if not _is_mock(name)]
    return (real or chat_models or [None])[0]


def _is_mock(name: str) -> bool:
    return name.startswith(("mock/", "mock-"))
