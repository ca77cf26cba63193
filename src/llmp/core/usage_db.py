"""The usage ledger's SQLite file: written by the daemon, read by `llmp usage`.

WAL mode lets the CLI read while the daemon writes, and a commit is in the
WAL file as soon as it returns: a killed daemon loses only rows it had not
committed yet, and SQLite's recovery makes the file whole on the next open.
`synchronous=NORMAL` gives up durability only across an OS crash or power
loss, which a usage ledger can afford.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from llmp.core.private_file import private_database
from llmp.core.sqlite_batch import BatchInsert

SCHEMA_VERSION = 2

# One row per request. Times are Unix seconds (UTC); latencies milliseconds; cost US dollars.
COLUMNS = (
    "ts", "request_id", "client_key", "inbound", "operation", "requested_model", "alias",
    "provider", "model", "tokens_in", "tokens_out", "tokens_cached", "cost", "estimated",
    "latency_ms", "ttft_ms", "status", "error_class", "attempts", "streamed",
    "cache_hit", "cost_saved", "cache_result",
)
#: Columns added since the first schema, added to an older file when it is opened.
_ADDED = (("cache_hit", "INTEGER NOT NULL DEFAULT 0"), ("cost_saved", "REAL"), ("cache_result", "TEXT"))

_DDL = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    request_id TEXT NOT NULL,
    client_key TEXT,
    inbound TEXT,
    operation TEXT,
    requested_model TEXT,
    alias TEXT,
    provider TEXT,
    model TEXT,
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    tokens_cached INTEGER NOT NULL DEFAULT 0,
    cost REAL,
    estimated INTEGER NOT NULL DEFAULT 0,
    latency_ms REAL,
    ttft_ms REAL,
    status INTEGER NOT NULL,
    error_class TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    streamed INTEGER NOT NULL DEFAULT 0,
    cache_hit INTEGER NOT NULL DEFAULT 0,
    cost_saved REAL,
    cache_result TEXT
);
CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts);
CREATE TABLE IF NOT EXISTS bodies (
    request_id TEXT PRIMARY KEY,
    ts REAL NOT NULL,
    request TEXT,
    response TEXT
);
CREATE INDEX IF NOT EXISTS bodies_ts ON bodies (ts);
"""

INSERT_BODIES = "INSERT OR REPLACE INTO bodies (request_id, ts, request, response) VALUES (?, ?, ?, ?)"


#: Rows (values in `COLUMNS` order) into `requests`, many to a statement.
insert_rows = BatchInsert("INSERT INTO requests", COLUMNS)


def connect(path: Path, *, any_thread: bool = False) -> sqlite3.Connection:
    """Open (creating if needed, mode 0600) the ledger, in WAL mode with the current schema.

    `any_thread` lets threads other than the opener's use the connection, one
    at a time: the caller serialises them.
    """
    private_database(path)
    db = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=not any_thread)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(_DDL)
    add_columns(db)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    return db


def add_columns(db: sqlite3.Connection) -> None:
    """Bring a ledger written by an older llmp up to the current columns (a no-op when it is)."""
    have = {row[1] for row in db.execute("PRAGMA table_info(requests)")}
    for name, kind in _ADDED:
        if have and name not in have:
            db.execute(f"ALTER TABLE requests ADD COLUMN {name} {kind}")
