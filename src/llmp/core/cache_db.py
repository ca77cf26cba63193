"""The response cache's SQLite file: written by the daemon, read and cleared by `llmp cache`.

Shared by both halves because `llmp cache stats` and `llmp cache clear` work
whether or not the daemon runs (when it runs, `clear` goes through it, so its
memory front forgets the same entries). One row per answer, for a hash of
the request (found by row id through the key file, see `cache_keys`); the
body is kept exactly as the client received it, with the facts needed to
replay it (its mode, who answered, the usage) beside it. A file in an older
layout is emptied when opened, not converted.
Nothing secret is stored: the key is a hash, and no header is kept.

The file is created mode 0600 before SQLite opens it (SQLite gives its WAL
and shared-memory files the same mode): answers hold prompts' replies.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from llmp.core import cache_keys
from llmp.core.private_file import private_database
from llmp.core.sqlite_batch import BatchInsert

SCHEMA_VERSION = 3

_DDL = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    key BLOB NOT NULL,
    model TEXT NOT NULL,
    meta BLOB NOT NULL,
    body BLOB NOT NULL,
    size INTEGER NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    used REAL NOT NULL
);
"""
# Rows in the order they were stored (the rowid), not in key order: the key is a hash, so
# rows kept in key order would leave the least recently used scattered over every page,
# and evicting them would free no page whole. No index at all: not on the key (rows are
# found by id, the key file maps keys to ids), not on `used` or `expires` (eviction and the
# hourly purge scan the table, rarely); an index is updated on every insert and hit.
# Columns only for what SQL itself selects by (the key, the model, the size and times);
# what a replay needs (format, operation, who answered, mode, content type, usage) is one
# JSON `meta` array: every column bound costs each stored answer more than encoding it does.

COLUMNS = ("id", "key", "model", "meta", "body", "size", "created", "expires", "used")
#: Rows (values in `COLUMNS` order, ids given by the writer) in, many to a statement.
insert_entries = BatchInsert("INSERT INTO entries", COLUMNS)
ROW_OVERHEAD = 160  # bytes an entry costs besides its body and meta (key, columns, b-tree, key file)


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (creating if needed, mode 0600) the cache file, in WAL mode with its schema."""
    if readonly:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5.0,
                             isolation_level=None, check_same_thread=False)
        return db
    private_database(path)
    db = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
    outdated = db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION
    if outdated:  # new, or an older layout: the cache is disposable, so it starts empty
        db.execute("DROP TABLE IF EXISTS entries")
        cache_keys.keys_path(path).unlink(missing_ok=True)
    if outdated or db.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
        db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # evicted bytes go back to the disk
        db.execute("VACUUM")  # the mode takes effect only on an empty or vacuumed file
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA journal_size_limit=4194304")
    db.executescript(_DDL)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    return db


def stored_bytes(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT COALESCE(SUM(size), 0) FROM entries").fetchall()[0][0])


def row_ids(db: sqlite3.Connection, path: Path) -> tuple[dict[bytes, int], int]:
    """Key -> row id of every stored answer, and the first id never used.

    Read from the key file; written afresh from the table when the file is
    missing (deleted by hand), and from the map when it is mostly dead records.
    """
    keys = cache_keys.keys_path(path)
    top = int(db.execute("SELECT COALESCE(MAX(id), 0) FROM entries").fetchone()[0])
    if not keys.exists():
        ids = {key: row_id for row_id, key in db.execute("SELECT id, key FROM entries")}
        cache_keys.rewrite(keys, ids)
        return ids, top + 1
    ids, records, highest = cache_keys.load(keys)
    if records > 2 * len(ids) + cache_keys.COMPACT_SLACK:
        cache_keys.rewrite(keys, ids)
    return ids, max(top, highest) + 1


def stats(db: sqlite3.Connection, now: float) -> dict[str, Any]:
    entries, size, expired, oldest = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(size), 0), COALESCE(SUM(expires <= ?), 0), MIN(created)"
        " FROM entries", (now,)).fetchone()
    by_model = [
        {"model": model, "entries": count, "bytes": total}
        for model, count, total in db.execute(
            "SELECT model, COUNT(*), SUM(size) FROM entries GROUP BY model ORDER BY SUM(size) DESC")
    ]
    return {"entries": entries, "bytes": size, "expired": expired, "oldest": oldest,
            "models": by_model}


def clear(db: sqlite3.Connection, path: Path, *, model: str | None = None,
          before: float | None = None) -> list[tuple[int, bytes]]:
    """Delete entries (of one model asked for, and/or created before a time); the `(id, key)`
    of each that went (noted in the key file too)."""
    where, args = _filter(model, before)
    removed = db.execute("DELETE FROM entries" + where + " RETURNING id, key", args).fetchall()
    cache_keys.append(cache_keys.keys_path(path), [(-row_id, key) for row_id, key in removed])
    give_back(db)
    return removed


def give_back(db: sqlite3.Connection) -> None:
    """Return freed pages to the disk: the file shrinks.

    `executescript`, not `execute`: the pragma frees one page per step, and the
    sqlite3 module steps a statement that returns no rows only once.
    """
    db.executescript("PRAGMA incremental_vacuum;")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def disk_bytes(db: sqlite3.Connection) -> int:
    """What the file takes once freed pages are given back: its pages in use."""
    pages = db.execute("PRAGMA page_count").fetchone()[0] - db.execute("PRAGMA freelist_count").fetchone()[0]
    return int(pages * db.execute("PRAGMA page_size").fetchone()[0])


def _filter(model: str | None, before: float | None) -> tuple[str, list[Any]]:
    clauses, args = [], []
    if model is not None:
        clauses.append("model = ?")
        args.append(model)
    if before is not None:
        clauses.append("created < ?")
        args.append(before)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args
