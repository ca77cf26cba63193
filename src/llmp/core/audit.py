"""The audit log: who changed a key, the config, a provider; who failed to authenticate.

One JSON object per line in `audit.log` in the log dir (mode 0600), appended
by the CLI and the daemon alike. Any module records an event with
`audit("key_set", provider="openai")`. Values are redacted like every other
output. The daemon switches to a background writer so a burst of failed logins
never blocks its event loop on the disk; the CLI writes directly, once.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from llmp.core.paths import resolve_paths
from llmp.core.redact import redact

FILE_NAME = "audit.log"
_writer: Callable[[bytes], None] | None = None


def audit_path() -> Path:
    return resolve_paths().log_dir / FILE_NAME


def audit(event: str, **fields: Any) -> None:
    """Record one event; never raises (an audit failure must not fail the action)."""
    entry: dict[str, Any] = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "event": event}
    for name, value in fields.items():
        entry[name] = redact(value) if isinstance(value, str) else value
    line = orjson.dumps(entry, default=str) + b"\n"
    try:
        (_writer or _append)(line)
    except Exception:  # e.g. a read-only log dir: the action itself still happens
        return


def _append(line: bytes) -> None:
    target = audit_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


class BackgroundWriter:
    """Appends audit lines from a thread, so callers on the event loop never wait for a disk."""

    def __init__(self) -> None:
        self._lines: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="llmp-audit", daemon=True)

    def start(self) -> BackgroundWriter:
        global _writer
        self._thread.start()
        _writer = self._lines.put
        return self

    def stop(self) -> None:
        """Write what is queued, then return to direct writes."""
        global _writer
        _writer = None
        self._lines.put(None)
        self._thread.join(5)

    def _run(self) -> None:
        while (line := self._lines.get()) is not None:
            try:
                _append(line)
            except OSError:
                continue
