"""The OS keyring, used only when a real one is there.

`keyring` falls back quietly to backends that do not keep a secret safe: `fail`
and `null` store nothing, `keyrings.alt`'s plaintext file stores it in clear,
and a chainer with nothing to chain is `null` in disguise. llmp treats all of
those as "no keyring" and says so, rather than writing a key somewhere the user
did not choose. `keyring` is imported here lazily: it costs ~130 ms, and on
Linux it brings secretstorage, jeepney and cryptography (~11 MiB). The daemon
therefore reads through a short-lived child process: `core/keyring_child.py`
hands `read_with` its reader, and every name needed is asked for at once.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any

SERVICE = "llmp"
_NOT_SAFE = {
    "keyring.backends.fail.Keyring",
    "keyring.backends.null.Keyring",
    "keyrings.alt.file.PlaintextKeyring",
}


# Windows Credential Manager keeps at most CRED_MAX_CREDENTIAL_BLOB_SIZE (5 * 512) bytes
# per secret, and keyring stores the secret as UTF-16: 1,280 ASCII characters.
WINDOWS_LIMIT = 2560


class KeyringUnavailable(Exception):
    """No usable OS keyring; the message says which backend was found."""


class KeyringRefused(KeyringUnavailable):
    """The keyring is there but would not hand over a key (macOS: a denied or impossible prompt)."""


@dataclass(frozen=True)
class Entry:
    """What the keyring holds for one name: the secret, or why it would not say."""

    value: str | None = None
    refused: str = ""  # the keyring is there but would not hand the key over


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


def _skip_keychain_probe() -> None:
    """Off macOS, keep keyring from importing its Keychain bindings, which look for the Security
    framework with `ctypes.util.find_library` (on Linux: `ldconfig -p` and a compiler run, about
    40 ms of a key read) only to fail: the Keychain backend then reports itself unavailable,
    as it does anyway on any other system."""
    if sys.platform != "darwin":
        sys.modules.setdefault("keyring.backends.macOS.api", None)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=1)
def status() -> KeyringStatus:
    _skip_keychain_probe()
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
    """The entry, or None when there is none or no usable keyring at all.

    A keyring that is there but refuses (the macOS Keychain when its prompt is
    denied, or cannot be shown: an ssh session, a locked keychain, a launchd
    agent before login) raises KeyringRefused: reporting that as a missing key
    would send the user looking for the wrong problem.
    """
    entry = read([username])[username]
    if entry.refused:
        raise KeyringRefused(entry.refused)
    return entry.value


_remembered = threading.local()
#: Reads the entries of names: in this process unless `read_with` gave another reader.
_reader: Callable[[Collection[str]], dict[str, Entry]] | None = None


def read_with(reader: Callable[[Collection[str]], dict[str, Entry]]) -> None:
    """From now on read the keyring with `reader` (the daemon's: a child process, so that the
    daemon keeps none of the keyring's libraries)."""
    global _reader
    _reader = reader


@contextlib.contextmanager
def remembering() -> Iterator[None]:
    """Within the block (on this thread) each name is read from the keyring at most once.

    Start-up reads the built-in config's keys and then its providers' keys, a
    reload every provider's: one lookup (one child process) instead of one per
    name. Outside it every read is fresh, so a key set later is found.
    """
    if getattr(_remembered, "entries", None) is not None:  # an enclosing block remembers already
        yield
        return
    _remembered.entries = {}
    try:
        yield
    finally:
        _remembered.entries = None


def read(usernames: Collection[str]) -> dict[str, Entry]:
    """Every name's entry, from one lookup."""
    memory: dict[str, Entry] | None = getattr(_remembered, "entries", None)
    wanted = [name for name in dict.fromkeys(usernames) if memory is None or name not in memory]
    found: dict[str, Entry] = {}
    if wanted and not declared_unsafe():
        found = (_reader or read_here)(wanted)
    fresh = {name: found.get(name, Entry()) for name in wanted}
    if memory is not None:
        memory.update(fresh)
        return {name: memory[name] for name in usernames}
    return fresh


def declared_unsafe() -> bool:
    """PYTHON_KEYRING_BACKEND names a backend that keeps nothing safe: known without loading keyring."""
    name = os.environ.get("PYTHON_KEYRING_BACKEND", "").strip()
    return name in _NOT_SAFE or "plaintext" in name.lower()


def read_here(usernames: Collection[str]) -> dict[str, Entry]:
    """The entries, read by this process."""
    if not status().usable:
        return {}
    try:
        import keyring
        from keyring.errors import KeyringError
    except Exception:
        return {}
    found: dict[str, Entry] = {}
    for username in usernames:
        try:
            found[username] = Entry(keyring.get_password(SERVICE, username))
        except KeyringError as exc:
            found[username] = Entry(refused=_refusal(username, exc))
        except Exception:  # any other backend failure means "no key here", never a crash
            found[username] = Entry()
    return found


def _refusal(username: str, exc: BaseException) -> str:
    detail = str(exc).strip() or type(exc).__name__
    return (f"the OS keyring ({status().backend}) refused to hand over the key for '{username}': "
            f"{detail}. On macOS: the Keychain prompt was denied or could not be shown (an ssh "
            f"session, a locked keychain, a login service before login); run "
            f"`security unlock-keychain` and choose Always Allow when asked, or give the key "
            f"through the environment instead")


def check_fits(backend: Any, secret: str) -> None:
    """Refuse, before storing, a secret the backend would reject or cut short."""
    size = len(secret.encode("utf-16-le"))
    if size > WINDOWS_LIMIT and _windows_vault(backend):
        raise KeyringUnavailable(
            f"the key is {size:,} bytes as Windows stores it (UTF-16), and Windows Credential "
            f"Manager keeps at most {WINDOWS_LIMIT:,} bytes (1,280 plain characters)")


def _windows_vault(backend: Any) -> bool:
    """Whether secrets go to the Windows Credential Locker (the backend itself, or one it chains)."""
    try:
        from keyring.backends.Windows import WinVaultKeyring
    except Exception:
        return False
    return any(isinstance(b, WinVaultKeyring) for b in (backend, *getattr(backend, "backends", ())))


def put(username: str, secret: str) -> None:
    current = status()
    if not current.usable:
        raise KeyringUnavailable(f"no usable OS keyring ({current.reason})")
    import keyring

    check_fits(keyring.get_keyring(), secret)
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
