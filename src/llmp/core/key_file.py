"""The opt-in key file: for machines without a usable OS keyring.

Only `llmp keys set NAME --file` writes it, so no key ever lands in plain text
unless the user asked for exactly that. It lives in the config dir with mode
0600 (readable by its owner only) and is rewritten atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

from llmp.core.paths import resolve_paths
from llmp.core.private_file import write_private

FILE_NAME = "keys.json"


def path() -> Path:
    return resolve_paths().config_dir / FILE_NAME


def read_all() -> dict[str, str]:
    try:
        data = json.loads(path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, str) and v}


def get(name: str) -> str | None:
    return read_all().get(name)


def put(name: str, secret: str) -> Path:
    entries = read_all()
    entries[name] = secret
    _write(entries)
    return path()


def delete(name: str) -> bool:
    entries = read_all()
    if name not in entries:
        return False
    del entries[name]
    if entries:
        _write(entries)
    else:
        path().unlink(missing_ok=True)
    return True


def _write(entries: dict[str, str]) -> None:
    write_private(path(), json.dumps(entries, indent=2, sort_keys=True))
