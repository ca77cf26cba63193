"""Reading the OS keyring in a short-lived child process, for the daemon.

`keyring` loads its backends' libraries (on Linux secretstorage, jeepney and
cryptography, about 11 MiB) and they would stay in the daemon's memory for its
whole life to read a few keys at start and on a reload. So the daemon runs its
own program again with the hidden argument `__keyring__` (the same binary when
frozen, which also keeps the macOS Keychain's "Always Allow" for it valid),
writes the names it wants on the child's stdin as JSON and reads the entries
from its stdout; the child then exits and its memory goes with it. A one-file
binary's child runs from the daemon's unpacked folder (`core/process_env.py`),
so a read costs no second unpacking of the bundle.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Collection

from llmp.core.keyring_store import Entry, declared_unsafe, read_here, read_with, status
from llmp.core.own_program import KEYRING_ARGUMENT, own_command
from llmp.core.process_env import own_binary_environment

# A locked collection may ask the user to unlock it: give them time, but not forever.
TIMEOUT = 120.0
CREATE_NO_WINDOW = 0x08000000  # Windows: no console window flashing up for the child


_early: tuple[frozenset[str] | None, subprocess.Popen[str]] | None = None


def read_for_this_process() -> None:
    """Every read of the keyring by this process (the daemon) goes through a child from now on."""
    read_with(read)


def read_soon(usernames: Collection[str] | None) -> None:
    """Start the reader now, in the background, so the keyring loads while the daemon does:
    reading these names, or with None (not known before the config file is read) waiting for
    those of the first `read`. `let_go` once start-up has asked."""
    if (usernames is None or usernames) and not declared_unsafe():
        start(usernames)


def start(usernames: Collection[str] | None) -> None:
    """Start a child now: it loads the keyring while the daemon loads the rest. Given names, it
    reads them at once and a later `read` of some of them takes its answer; given None (the
    names are not known yet), it waits for those of the first `read`."""
    global _early
    try:
        process = _spawn()
    except OSError:  # `read` will try again, and say why
        _early = None
        return
    if usernames is not None:
        _send(process, usernames)
    _early = (None if usernames is None else frozenset(usernames), process)


def let_go() -> None:
    """The child started early and not read from (start-up asked the keyring for nothing it
    could answer) is told there is nothing to read; a thread waits for it to exit."""
    global _early
    if _early is None:
        return
    names, process = _early
    _early = None
    if names is None:
        _send(process, ())
    threading.Thread(target=process.communicate, name="keyring reader exit", daemon=True).start()


def _spawn() -> subprocess.Popen[str]:
    # A group of its own (POSIX): a child that must be stopped goes with anything it started,
    # such as the Python half of a one-file binary that had to unpack for itself.
    options: dict[str, object] = ({"creationflags": CREATE_NO_WINDOW} if os.name == "nt"
                                  else {"start_new_session": True})
    return subprocess.Popen(own_command(KEYRING_ARGUMENT), stdin=subprocess.PIPE,  # type: ignore[call-overload, no-any-return]
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            encoding="utf-8", env=own_binary_environment(os.environ), **options)


def _send(process: subprocess.Popen[str], usernames: Collection[str]) -> None:
    """The names, on the child's stdin, closed then (not by communicate())."""
    stdin, process.stdin = process.stdin, None
    assert stdin is not None
    try:
        stdin.write(json.dumps({"names": list(usernames)}))
    except OSError:  # a child that died at once is seen when it is read
        pass
    finally:
        with contextlib.suppress(OSError):
            stdin.close()


def read(usernames: Collection[str]) -> dict[str, Entry]:
    """Every name's entry, read by one child process (the one already started, if it was given
    these names or none yet).

    A child that fails or does not answer is reported on every name as a keyring
    that would not hand the key over, never as keys that are missing.
    """
    global _early
    process = None
    if _early is not None and (_early[0] is None or _early[0].issuperset(usernames)):
        (names, process), _early = _early, None
        if names is None:
            _send(process, usernames)
    try:
        if process is None:
            process = _spawn()
            _send(process, usernames)
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        _stop(process)
        return _failed(usernames, f"the OS keyring did not answer within {TIMEOUT:g}s")
    except OSError as exc:
        return _failed(usernames, _not_started(exc))
    try:
        entries = json.loads(output)["entries"]
        return {name: Entry(entry.get("value"), entry.get("refused", ""))
                for name, entry in entries.items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        # Its stderr is not even read: whatever a backend printed there might include a secret.
        return _failed(usernames, f"the keyring reader failed (exit code {process.returncode})")


def _stop(process: subprocess.Popen[str]) -> None:
    """Kill the child and everything in its group, so no leftover holds its output open."""
    if os.name != "nt":
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)
    process.kill()
    process.communicate()


def _not_started(exc: OSError) -> str:
    if getattr(sys, "frozen", False) and isinstance(exc, FileNotFoundError):
        return (f"the keyring reader could not start: the llmp binary {sys.executable} is no "
                f"longer there (moved or removed since the daemon started); restart the daemon")
    return f"the keyring reader could not start ({exc.strerror})"


def _failed(usernames: Collection[str], why: str) -> dict[str, Entry]:
    return {name: Entry(refused=why) for name in usernames}


def serve() -> int:
    """The child's side: names in on stdin, entries out on stdout. The keyring loads first,
    while a daemon that started this child early is still finding out which names it needs."""
    status()
    try:
        names = json.load(sys.stdin)["names"]
    except (ValueError, KeyError, TypeError):
        print("llmp: the keyring reader expects {\"names\": [...]} on stdin", file=sys.stderr)
        return 2
    entries = read_here([str(name) for name in names])
    json.dump({"entries": {name: {"value": entry.value, "refused": entry.refused}
                           for name, entry in entries.items()}}, sys.stdout)
    return 0
