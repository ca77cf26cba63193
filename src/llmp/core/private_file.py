"""Writing a file only its owner may read, atomically.

Used for everything that holds a secret (the state file with the admin token,
the opt-in key file): created with mode 0600 before any byte is written, then
renamed over the old one, so a reader never sees half a file and nobody else
ever sees the secret. SQLite files (the ledger, the cache, stored responses)
hold prompts and costs: `private_database` makes them the owner's before
SQLite opens them, and SQLite gives its WAL and shared-memory files the mode
of the database they belong to.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from llmp.core.paths import make_private_folder, unwritable


def write_private(path: Path, text: str) -> None:
    make_private_folder(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", dir=path.parent)
    except OSError as exc:  # a read-only folder
        raise unwritable(path, exc) from None
    try:
        os.chmod(tmp, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: What SQLite keeps beside a database in WAL mode.
_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_database(path: Path) -> None:
    """Create `path` readable by its owner only, or tighten a file (and its WAL) made before."""
    make_private_folder(path.parent)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    except OSError as exc:
        raise unwritable(path, exc) from None
    for file in (path, *(path.with_name(path.name + suffix) for suffix in _SQLITE_COMPANIONS)):
        if file.exists():
            os.chmod(file, 0o600)  # a file from an older llmp, or an umask that widened it
