"""The response cache's key file: which row of the cache's table holds the answer to which key.

The table has no index on its key. The key is a hash, so an index on it puts
each new key on a random page: every batch of stored answers rewrote pages
all over the index (in the WAL, then the file), which cost a miss more than
the rest of storing it. Instead the daemon holds key -> row id in memory and
reads rows by id (the table's own b-tree, appended to in order), and this
file, beside the database, keeps that map across restarts. It is only ever
appended to, a batch of 28-byte records at a time: (id, key) for a stored
row, (-id, key) for a deleted one; reading it from the start replays the map,
and when it holds mostly dead records it is written afresh from the map.

It may lag the table by a crash between the two writes: a key whose row is
gone is found out on lookup (the row's own key is compared) and counts as a
miss; a row whose record was lost is never served and ages out. A key is a
hash of the request, nothing secret, but the file is its owner's alone all the same.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import IO

RECORD = struct.Struct("<q20s")  # row id (negated: deleted), key
#: Dead records tolerated besides twice the live ones before the file is written afresh.
COMPACT_SLACK = 4096


def keys_path(database: Path) -> Path:
    """The key file of a cache database, named like SQLite's own companions (`-wal`, `-shm`)."""
    return database.with_name(database.name + "-keys")


def load(path: Path) -> tuple[dict[bytes, int], int, int]:
    """The map the file replays to, how many records it holds, and the highest id it names."""
    ids: dict[bytes, int] = {}
    data = path.read_bytes()
    data = data[:len(data) - len(data) % RECORD.size]  # a record cut by a crash is dropped
    highest = 0
    for row_id, key in RECORD.iter_unpack(data):
        if row_id > 0:
            ids[key] = row_id
            highest = max(highest, row_id)
        elif ids.get(key) == -row_id:
            del ids[key]
    return ids, len(data) // RECORD.size, highest


def append(path: Path, records: Iterable[tuple[int, bytes]]) -> None:
    """Add records (`(id, key)` stored, `(-id, key)` deleted) at the file's end (once: see `KeyLog`)."""
    log = KeyLog(path)
    try:
        log.append(records)
    finally:
        log.close()


class KeyLog:
    """The key file held open for appending by the cache's writer thread (an open per batch
    cost a stored answer more than its record).

    A file deleted meanwhile is not made anew with only the records that follow:
    the next start writes it whole from the table.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def append(self, records: Iterable[tuple[int, bytes]]) -> None:
        data = b"".join([RECORD.pack(row_id, key) for row_id, key in records])
        if not data:
            return
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            except FileNotFoundError:
                return
        os.write(self._fd, data)  # one write of whole records: O_APPEND keeps them whole

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def rewrite(path: Path, ids: dict[bytes, int]) -> None:
    """Replace the file with one record per live key (atomically: a crash leaves the old one)."""
    tmp = path.with_name(path.name + ".tmp")
    with _open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC) as handle:
        handle.write(b"".join([RECORD.pack(row_id, key) for key, row_id in ids.items()]))
    os.replace(tmp, path)


def _open(path: Path, flags: int) -> IO[bytes]:
    return os.fdopen(os.open(path, flags, 0o600), "wb")
