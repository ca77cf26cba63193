"""Writing a file only its owner may read, atomically.

Used for everything that holds a secret (the state file with the admin token,
the opt-in key file): created with mode 0600 before any byte is written, then
renamed over the old one, so a reader never sees half a file and nobody else
ever sees the secret.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", dir=path.parent)
    try:
        os.chmod(tmp, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
