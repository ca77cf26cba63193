"""The usage ledger's writer: rows queue up on the event loop, a thread commits them.

`record` is one queue put of a batch of finished requests' records (no
disk, no lock held by the caller); the writer makes the rows. The writer thread
commits whatever arrived within `flush_interval` as one transaction, so a
`kill -9` loses at most that much, and prunes rows older than the retention
once an hour. A failing disk costs rows and a warning, never a request.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmp.core.usage_db import INSERT_BODIES, connect, insert_rows
from llmp.daemon.gather import gather
from llmp.daemon.telemetry.record import Finished, milliseconds
from llmp.daemon.telemetry.sink_health import HEALTH

log = logging.getLogger("llmp.usage")
DAY = 86_400.0
PRUNE_EVERY = 3_600.0
_STOP = object()
MAX_QUEUED = 10_000  # batches waiting for the writer; past it rows are dropped and counted

Row = tuple[Any, ...]


class Ledger:
    def __init__(
        self,
        path: Path,
        *,
        retention_days: int,
        flush_interval: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.retention_days = retention_days
        self.flush_interval = flush_interval
        self._clock = clock
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="llmp-usage-writer", daemon=True)
        self._next_prune = 0.0
        self._wake = threading.Event()
        self.written = 0

    def start(self) -> None:
        self._thread.start()

    def record(self, records: list[Finished]) -> None:
        if records and self._room(len(records)):
            self._queue.put(("rows", records))

    def record_bodies(self, request_id: str, ts: float, request: str | None, response: str | None) -> None:
        if self._room(1):
            self._queue.put(("bodies", (request_id, ts, request, response)))

    def _room(self, rows: int) -> bool:
        """Whether the writer's queue takes more: a stalled disk must not grow memory instead."""
        if self._queue.qsize() < MAX_QUEUED:
            return True
        HEALTH.drop("ledger", rows)
        return False

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until everything recorded so far is committed (tests, shutdown)."""
        done = threading.Event()
        self._queue.put(("flush", done))
        self._wake.set()
        return done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._wake.set()
            self._thread.join(timeout)

    # -- the writer thread ----------------------------------------------------

    def _run(self) -> None:
        try:
            db = connect(self.path)
        except (sqlite3.Error, OSError) as exc:
            log.warning("usage ledger disabled: cannot open %s (%s)", self.path, exc)
            self._drain_forever()
            return
        try:
            self._prune(db)
            stop = False
            while not stop:
                batch = gather(self._queue, self._wake, self.flush_interval)
                stop = self._write(db, batch)
                self._prune(db)
        finally:
            db.close()

    def _write(self, db: sqlite3.Connection, batch: list[Any]) -> bool:
        rows = [ledger_row(record) for item in batch if item is not _STOP and item[0] == "rows"
                for record in item[1]]
        bodies = [item[1] for item in batch if item is not _STOP and item[0] == "bodies"]
        try:
            with _transaction(db):
                if rows:
                    insert_rows(db, rows)
                if bodies:
                    db.executemany(INSERT_BODIES, bodies)
            self.written += len(rows)
            HEALTH.recovered("ledger")
        except sqlite3.Error as exc:
            HEALTH.drop("ledger", len(rows), str(exc))
            log.warning("usage ledger: %d rows lost (%s)", len(rows), exc)
        except Exception:  # a bug here must cost rows, not the writer thread
            HEALTH.drop("ledger", len(rows))
            log.exception("usage ledger: %d rows lost", len(rows))
        stop = False
        for item in batch:
            if item is _STOP:
                stop = True
            elif item[0] == "flush":
                item[1].set()
        return stop

    def _prune(self, db: sqlite3.Connection) -> None:
        now = self._clock()
        if self.retention_days <= 0 or now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY
        cutoff = now - self.retention_days * DAY
        try:
            with _transaction(db):
                removed = db.execute("DELETE FROM requests WHERE ts < ?", (cutoff,)).rowcount
                db.execute("DELETE FROM bodies WHERE ts < ?", (cutoff,))
        except sqlite3.Error as exc:
            log.warning("usage ledger: pruning failed (%s)", exc)
            return
        if removed:
            log.info("usage ledger: pruned %d rows older than %d days", removed, self.retention_days)

    def _drain_forever(self) -> None:
        """Without a database, keep answering flushes so nobody waits on a dead writer."""
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if item[0] == "flush":
                item[1].set()


def ledger_row(record: Finished) -> Row:
    """A record as a row of the `requests` table (`usage_db.COLUMNS`): counts 0 when unknown, milliseconds."""
    tokens = record.tokens
    return (
        record.started, record.request_id, record.client_key, record.inbound, record.operation,
        record.requested_model, record.alias, record.provider, record.model,
        tokens.input if tokens else 0, tokens.output if tokens else 0, tokens.cached if tokens else 0,
        record.cost, int(bool(tokens and tokens.estimated)), milliseconds(record.latency, 3),
        milliseconds(record.ttfb, 3), record.status, record.error_kind, record.attempts,
        int(record.stream), int(record.cache == "hit"), record.saved, record.cache,
    )


class _transaction:
    """BEGIN/COMMIT around a block, ROLLBACK on error (the connection is in autocommit mode)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN")

    def __exit__(self, kind: object, *_: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
