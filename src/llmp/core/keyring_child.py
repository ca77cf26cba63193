"""Reading the OS keyring in a short-lived child process, for the daemon.

`keyring` loads its backends' libraries (on Linux secretstorage, jeepney and
cryptography, about 11 MiB) and they would stay in the daemon's memory for its
whole life to read a few keys at start and on a reload. So the daemon runs its
own program again with the hidden argument `__keyring__` (the same binary when
frozen, which also keeps the macOS Keychain's "Always Allow" for it valid),
writes the names it wants on the child's stdin as JSON and reads the entries
from its stdout; the child then exits and its memory goes with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Collection

from llmp.core.keyring_store import Entry, read_here
from llmp.entry import KEYRING_ARGUMENT, own_command

# A locked collection may ask the user to unlock it: give them time, but not forever.
TIMEOUT = 120.0
CREATE_NO_WINDOW = 0x08000000  # Windows: no console window flashing up for the child


def read(usernames: Collection[str]) -> dict[str, Entry]:
    """Every name's entry, read by one child process.

    A child that fails or does not answer is reported on every name as a keyring
    that would not hand the key over, never as keys that are missing.
    """
    request = json.dumps({"names": list(usernames)})
    options: dict[str, object] = {"creationflags": CREATE_NO_WINDOW} if os.name == "nt" else {}
    try:
        done = subprocess.run(own_command(KEYRING_ARGUMENT), input=request, capture_output=True,
                              text=True, encoding="utf-8", timeout=TIMEOUT, check=False,
                              **options)  # type: ignore[call-overload]
    except subprocess.TimeoutExpired:
        return _failed(usernames, f"the OS keyring did not answer within {TIMEOUT:g}s")
    except OSError as exc:
        return _failed(usernames, f"the keyring reader could not start ({exc.strerror})")
    try:
        entries = json.loads(done.stdout)["entries"]
        return {name: Entry(entry.get("value"), entry.get("refused", ""))
                for name, entry in entries.items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        # Its stderr stays unread: whatever a backend printed there might include a secret.
        return _failed(usernames, f"the keyring reader failed (exit code {done.returncode})")


def _failed(usernames: Collection[str], why: str) -> dict[str, Entry]:
    return {name: Entry(refused=why) for name in usernames}


def serve() -> int:
    """The child's side: names in on stdin, entries out on stdout."""
    try:
        names = json.load(sys.stdin)["names"]
    except (ValueError, KeyError, TypeError):
        print("llmp: the keyring reader expects {\"names\": [...]} on stdin", file=sys.stderr)
        return 2
    entries = read_here([str(name) for name in names])
    json.dump({"entries": {name: {"value": entry.value, "refused": entry.refused}
                           for name, entry in entries.items()}}, sys.stdout)
    return 0
