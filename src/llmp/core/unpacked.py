"""The folders a one-file build's daemons unpack themselves into, and removing stale ones.

Each daemon of a one-file build runs from a `_MEIxxxxxx` folder of ~75 MB in
llmp's cache (`Paths.unpack_dir`). Its bootloader deletes the folder when the
daemon exits, but not when the bootloader itself is killed (`kill -9`, a
crash, a power cut). So a frozen daemon writes an owner file beside its folder
(`_MEIxxxxxx.owner`: pid and process create time), and `llmp start` removes
every folder whose owner no longer runs. A folder without an owner file is a
daemon still starting, unless it is older than `STARTING_GRACE`.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from pathlib import Path

from llmp.core.state import process_matches

FOLDER_PREFIX = "_MEI"
OWNER_SUFFIX = ".owner"
STARTING_GRACE = 120.0  # seconds a daemon may take from unpacking to writing its owner file


def claim(bundle_dir: Path, pid: int, create_time: float) -> Path:
    """Record that the process `pid` runs from `bundle_dir` (a frozen daemon, at start);
    the owner file, which the daemon removes as it exits."""
    owner = bundle_dir.with_name(bundle_dir.name + OWNER_SUFFIX)
    owner.write_text(json.dumps({"pid": pid, "create_time": create_time}), encoding="utf-8")
    return owner


def remove_stale(unpack_dir: Path, now: float | None = None) -> list[Path]:
    """Remove the unpacked folders (and owner files) of daemons that are gone; the folders removed."""
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = list(unpack_dir.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if entry.name.startswith(FOLDER_PREFIX) and entry.is_dir() and _stale(entry, now):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    for owner in unpack_dir.glob(f"{FOLDER_PREFIX}*{OWNER_SUFFIX}"):
        if not owner.with_name(owner.name.removesuffix(OWNER_SUFFIX)).exists():
            with contextlib.suppress(OSError):
                owner.unlink()
    return removed


def _stale(folder: Path, now: float) -> bool:
    owner = folder.with_name(folder.name + OWNER_SUFFIX)
    try:
        data = json.loads(owner.read_text(encoding="utf-8"))
        return not process_matches(int(data["pid"]), float(data["create_time"]))
    except (OSError, ValueError, KeyError, TypeError):
        try:
            return now - folder.stat().st_mtime > STARTING_GRACE
        except OSError:
            return False
