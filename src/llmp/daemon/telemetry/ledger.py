"""The usage ledger's writer, run by the telemetry thread: rows kept a moment, then committed together.

`record` turns a batch of finished requests into rows held in memory;
`commit_due`, once per pass of the telemetry thread, commits what is held
as one transaction every `COMMIT_EVERY`, so a `kill -9` loses at most that
much (and the pass being made); it tells the thread when the next commit is
due, so rows held after a burst are committed though no request follows. The
file is opened by that thread on its first pass and pruned of rows older than
the retention then and once an hour. A failing disk costs rows (dropped,
counted, said once), never a request; the next commit opens the file afresh
and tries again, so writing resumes by itself.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from llmp.core.usage_db import INSERT_BODIES, connect, insert_rows
from llmp.daemon.telemetry.record import Finished, milliseconds
from llmp.daemon.telemetry.sink_health import HEALTH

log = logging.getLogger("llmp.usage")
DAY = 86_400.0
PRUNE_EVERY = 3_600.0
#: Seconds between commits. Each commit rewrites the pages it touches in the WAL, so one per
#: request, or per pass of the telemetry thread, would cost several times the rows themselves.
COMMIT_EVERY = 0.25
MAX_BODIES = 1_000  # stored bodies waiting for a commit; past it they are dropped and counted
#: The connection's page cache, in KiB. Appending touches only the last pages of the table and
#: of its index; SQLite's default (2 MiB) filled up over the first ten thousand rows of a soak
#: and held pages the writer never reads again. Inserting costs the same (measured: 2.8 us a row).
PAGE_CACHE_KIB = 256

Row = tuple[Any, ...]
Body = tuple[str, float, str | None, str | None]


class Ledger:
    def __init__(
        self,
        path: Path,
        *,
        retention_days: int,
        commit_every: float = COMMIT_EVERY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.retention_days = retention_days
        self.commit_every = commit_every
        self._clock = clock
        self._rows: list[Row] = []
        self._bodies: deque[Body] = deque()  # added on the event loop
        self._lock = threading.Lock()  # the rows and the connection: the telemetry thread's, or a flush's
        self._db: sqlite3.Connection | None = None
        self._opened = False  # tried once: later the file is opened again only for rows to commit
        self._committed = time.monotonic()
        self._next_prune = 0.0
        self.written = 0

    def record(self, records: Sequence[Finished]) -> None:
        """Keep the records' rows for the next commit (the telemetry thread, with the batch it writes)."""
        rows = [ledger_row(record) for record in records]
        with self._lock:
            self._rows += rows

    def record_bodies(self, request_id: str, ts: float, request: str | None, response: str | None) -> None:
        """Keep a request's stored bodies for the next commit (the event loop: an append, no disk)."""
        if len(self._bodies) < MAX_BODIES:
            self._bodies.append((request_id, ts, request, response))
        else:  # the commits are failing or stalled: memory must not grow instead
            HEALTH.drop("ledger", 1)

    def commit_due(self) -> float | None:
        """Commit what is held once `commit_every` has passed since the last commit (the file is
        opened then the first time, rows or not); the seconds until the next commit is due, None
        while nothing is held (an idle telemetry thread then sleeps until there is)."""
        if not (self._rows or self._bodies or not self._opened):
            return None
        wait = self._committed + self.commit_every - time.monotonic()
        if wait > 0:
            return wait
        self.flush()
        return None

    def flush(self) -> bool:
        """Commit every row recorded so far, now; whether they are in the file (tests, shutdown)."""
        with self._lock:
            rows, self._rows = self._rows, []
            bodies = [self._bodies.popleft() for _ in range(len(self._bodies))]
            self._committed = time.monotonic()
            db = self._open(len(rows))
            if db is None:
                return False
            try:
                with _transaction(db):
                    if rows:
                        insert_rows(db, rows)
                    if bodies:
                        db.executemany(INSERT_BODIES, bodies)
            except sqlite3.Error as exc:  # a full disk, a file made read-only
                HEALTH.drop("ledger", len(rows), str(exc))
                self._close()  # opened afresh by the next commit
                return False
            except Exception:  # a bug here must cost rows, not the telemetry thread
                HEALTH.drop("ledger", len(rows))
                log.exception("usage ledger: %d rows lost", len(rows))
                return False
            self.written += len(rows)
            HEALTH.recovered("ledger")
            self._prune(db)
            return True

    def close(self) -> None:
        self.flush()
        with self._lock:
            self._close()

    def _open(self, rows: int) -> sqlite3.Connection | None:
        """The connection, opened (and the old rows pruned) if it is not; None, `rows` counted as
        dropped, when the file cannot be opened."""
        if self._db is not None:
            return self._db
        self._opened = True
        try:
            self._db = connect(self.path, any_thread=True)
            self._db.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
        except (sqlite3.Error, OSError) as exc:
            HEALTH.drop("ledger", rows, f"cannot open {self.path.name}: {exc}")
            return None
        self._prune(self._db)
        return self._db

    def _close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            db.close()

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
