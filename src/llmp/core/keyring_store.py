"""The OS keyring, used only when a real one is there.

`keyring` falls back quietly to backends that do not keep a secret safe: `fail`
and `null` store nothing, `keyrings.alt`'s plaintext file stores it in clear,
and a chainer with nothing to chain is `null` in disguise. llmp treats all of
those as "no keyring" and says so, rather than writing a key somewhere the user
did not choose. `keyring` is imported here lazily: it costs ~130 ms.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

SERVICE = "llmp"
_NOT_SAFE = {
    "keyring.backends.fail.Keyring",
    "keyring.backends.null.Keyring",
    "keyrings.alt.file.PlaintextKeyring",
}


class KeyringUnavailable(Exception):
    """No usable OS keyring; the message says which backend was found."""


@dataclass(frozen=True)
class KeyringStatus:
    backend: str  # the backend's class, for `llmp keys list`
    usable: bool
    reason: str = ""


def _class_name(backend: Any) -> str:
    kind = type(backend)
    return f"{kind.__module__}.{kind.__qualname__}"


def _safe(backend: Any) -> bool:
    name = _class_name(backend)
    if name in _NOT_SAFE or "plaintext" in name.lower():
        return False
    if name == "keyring.backends.chainer.ChainerBackend":
        return any(_safe(inner) for inner in getattr(backend, "backends", ()))
    return True


@functools.lru_cache(maxsize=1)
def status() -> KeyringStatus:
    try:
        import keyring

        backend = keyring.get_keyring()
    except Exception as exc:  # a broken backend must read as "no keyring", never crash
        return KeyringStatus("unavailable", False, f"the keyring could not load ({type(exc).__name__})")
    name = _class_name(backend)
    try:
        usable = _safe(backend)
    except Exception:
        usable = False
    reason = "" if usable else f"{name} does not store secrets safely"
    return KeyringStatus(name, usable, reason)


def get(username: str) -> str | None:
    """The entry, or None when there is none or no usable keyring at all."""
    if not status().usable:
        return None
    try:
        import keyring

        return keyring.get_password(SERVICE, username)
    except Exception:  # any backend failure means "no key here", never a crash
        return None


def put(username: str, secret: str) -> None:
    current = status()
    if not current.usable:
        raise KeyringUnavailable(f"no usable OS keyring ({current.reason})")
    import keyring

    try:
        keyring.set_password(SERVICE, username, secret)
    except Exception as exc:
        raise KeyringUnavailable(f"the keyring refused the key ({type(exc).__name__})") from None


def delete(username: str) -> bool:
    """Remove the entry; False when there was none (or no usable keyring)."""
    if not status().usable:
        return False
    try:
        import keyring
        from keyring.errors import PasswordDeleteError

        try:
            keyring.delete_password(SERVICE, username)
        except PasswordDeleteError:
            return False
    except Exception:
        return False
    return True
