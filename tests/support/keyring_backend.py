"""A keyring backend for tests: entries in a JSON file under LLMP_HOME.

Child processes (the CLI, the daemon) select it with
`PYTHON_KEYRING_BACKEND=tests.support.keyring_backend.TestFileKeyring`, so a
key the CLI stores is the key the daemon reads, as with a real OS keyring,
without touching the developer's own keyring.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.backends.Windows import WinVaultKeyring
from keyring.errors import KeyringLocked, PasswordDeleteError

BACKEND = "tests.support.keyring_backend.TestFileKeyring"


class TestFileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]
    __test__ = False  # not a pytest test class

    @property
    def _path(self) -> Path:
        return Path(os.environ["LLMP_HOME"]) / "test-keyring.json"

    def _entries(self) -> dict[str, str]:
        try:
            return json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._entries().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = self._entries()
        entries[f"{service}/{username}"] = password
        self._path.write_text(json.dumps(entries), encoding="utf-8")

    def delete_password(self, service: str, username: str) -> None:
        entries = self._entries()
        if entries.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError(username)
        self._path.write_text(json.dumps(entries), encoding="utf-8")

    def entries(self) -> dict[str, str]:
        """Everything stored, for assertions."""
        return self._entries()


DENIED_BACKEND = "tests.support.keyring_backend.DeniedKeyring"


class DeniedKeyring(TestFileKeyring):
    """A keyring that is there but refuses to read, as the macOS Keychain does when its
    prompt is denied (errSecAuthFailed) or cannot be shown (errSecInteractionNotAllowed):
    keyring's macOS backend raises KeyringLocked or KeyringError then."""

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("Can't get password from keychain: (-25308, 'User interaction is not allowed.')")


WINDOWS_BACKEND = "tests.support.keyring_backend.WindowsVaultKeyring"


class WindowsVaultKeyring(TestFileKeyring, WinVaultKeyring):
    """keyring's Windows Credential Locker backend as llmp sees it, storing in the test file
    (the real one needs Windows): llmp must hold it to Credential Manager's size limit."""


CRASHING_BACKEND = "tests.support.keyring_backend.CrashingKeyring"


class CrashingKeyring(TestFileKeyring):
    """A backend whose native library takes the whole process down (a segfault, an abort)."""

    def get_password(self, service: str, username: str) -> str | None:
        os._exit(3)


STUCK_BACKEND = "tests.support.keyring_backend.StuckKeyring"


class StuckKeyring(TestFileKeyring):
    """A backend that never answers and has started a helper of its own (as a D-Bus activation
    or an unlock prompt may): its pid is left in LLMP_HOME/stuck-helper.pid."""

    def get_password(self, service: str, username: str) -> str | None:
        import subprocess
        import sys
        import time

        helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        (Path(os.environ["LLMP_HOME"]) / "stuck-helper.pid").write_text(str(helper.pid))
        time.sleep(600)
        return None
