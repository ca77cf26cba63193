"""Cached answers on disk (SQLite in the data dir) with a small memory front.

Reads happen on the event loop: a hot entry is in the memory front (a dict
lookup); any other is one primary-key SELECT on a read connection of its own,
which in WAL mode never waits for the writer. The keys of every stored entry
are also held in memory (about 100 bytes an entry), so a question never asked
before, the cache's commonest case, costs a set lookup rather than a query. Writes never happen on the loop:
`put`, `touch` and `clear` queue work for one writer thread, which every
`WRITE_INTERVAL` writes what gathered in one transaction (so an answer can be
served from the cache a fifth of a second after it was given), checks that
an answer is whole before it stores it, keeps the file under `max_bytes` by
evicting the least recently used entries, and drops expired ones. A failing
disk costs entries and a warning, never a request.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from llmp.core import cache_db
from llmp.daemon.cache.replay.events import Incomplete
from llmp.daemon.gather import gather

log = logging.getLogger("llmp.cache")
FRONT_ENTRY_BYTES = 1024 * 1024  # larger answers are read from the file each time
WRITE_INTERVAL = 0.2  # seconds answers gather before they are written together
PURGE_EVERY = 3_600.0  # seconds between sweeps of expired entries
#: Share of `max_bytes` the entries themselves may fill: the rest is SQLite's own
#: (pages part empty, indexes, the freelist before it is vacuumed).
FILL = 0.75
MEASURE_STEP = 0.01  # share of `max_bytes` stored between two readings of the file's own size
_STOP = object()


@dataclass(slots=True)
class Entry:
    key: bytes
    inbound: str
    operation: str
    model: str  # the model the client asked for
    provider: str | None  # who answered it
    served_model: str | None
    mode: str  # "json" | "sse": how the client that caused it received it
    content_type: str
    usage: dict[str, Any] | None
    body: bytes
    created: float
    expires: float

    @property
    def size(self) -> int:
        return len(self.body) + cache_db.ROW_OVERHEAD

    def row(self) -> tuple[Any, ...]:
        """The entry as parameters for `cache_db.INSERT`.

        Blobs go as bytearrays: the sqlite3 module binds str, int, float and bytearray
        directly, but looks for an adapter for bytes and None, at a cost (a failed attribute
        lookup, an exception formatted and dropped) larger than the rest of a row's insert.
        """
        meta = orjson.dumps([self.inbound, self.operation, self.provider, self.served_model,
                             self.mode, self.content_type, self.usage])
        return (bytearray(self.key), self.model, bytearray(meta), bytearray(self.body),
                self.size + len(meta), self.created, self.expires, self.created)


class Store:
    def __init__(self, path: Path, *, max_bytes: int, memory_entries: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.clock = clock
        self.bytes = 0  # what the entries take, as the writer last counted
        self.dropped = 0  # answers not stored: incomplete, or the disk failed
        self._front: OrderedDict[bytes, Entry] = OrderedDict()
        self._front_size = memory_entries
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._reader = cache_db.connect(path)  # creates the file and schema; read-only use after
        self.bytes = cache_db.stored_bytes(self._reader)
        self._measured = -float(max_bytes)  # `bytes` when the file's own size was last read
        #: Keys in the file: added by the writer once committed, replaced whole after deletions.
        self._keys = cache_db.keys(self._reader)
        self._thread = threading.Thread(target=self._run, name="llmp-cache-writer", daemon=True)
        self._thread.start()

    # -- on the event loop ---------------------------------------------------------

    def get(self, key: bytes, now: float) -> Entry | None:
        entry = self._front.get(key)
        if entry is not None:
            self._front.move_to_end(key)
        elif key not in self._keys:
            return None
        else:
            try:
                rows = self._reader.execute(
                    "SELECT model, meta, body, created, expires FROM entries WHERE key = ?",
                    (key,)).fetchall()
            except sqlite3.Error as exc:
                log.warning("response cache: lookup failed (%s)", exc)
                return None
            # fetchall, not fetchone: a statement left unfinished holds a read snapshot, which
            # stops the writer's checkpoints from shrinking the file
            if not rows:
                return None
            model, meta, body, created, expires = rows[0]
            inbound, operation, provider, served_model, mode, content_type, usage = orjson.loads(meta)
            entry = Entry(key, inbound, operation, model, provider, served_model, mode,
                          content_type, usage, body, created, expires)
            self._remember(entry)
        if entry.expires <= now:
            self._front.pop(key, None)
            return None
        self._queue.put(("touch", key, now))
        return entry

    def put(self, entry: Entry, check: Callable[[], None]) -> None:
        """Store an answer once `check` (run on the writer thread) finds it whole.

        The writer is not woken: answers gather for up to `WRITE_INTERVAL` and go in as one
        transaction (a commit, and a thread hand-over, per answer would cost a miss more
        than everything else the cache does for it).
        """
        self._front.pop(entry.key, None)  # a refresh: the old answer is not served again
        self._queue.put(("put", entry, check))

    def forget_front(self) -> None:
        self._front.clear()

    def _remember(self, entry: Entry) -> None:
        if self._front_size and len(entry.body) <= FRONT_ENTRY_BYTES:
            self._front[entry.key] = entry
            if len(self._front) > self._front_size:
                self._front.popitem(last=False)

    # -- from any thread -------------------------------------------------------------

    def clear(self, *, model: str | None = None, before: float | None = None,
              timeout: float = 30.0) -> int:
        """Delete entries on the writer thread and wait for it (call off the loop)."""
        done: dict[str, Any] = {"event": threading.Event(), "removed": 0}
        self._queue.put(("clear", model, before, done))
        self._wake.set()
        done["event"].wait(timeout)
        return int(done["removed"])

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until everything queued so far is written (tests, shutdown)."""
        done = threading.Event()
        self._queue.put(("flush", done))
        self._wake.set()
        return done.wait(timeout)

    def stats(self) -> dict[str, Any]:
        db = cache_db.connect(self.path, readonly=True)
        try:
            return cache_db.stats(db, self.clock())
        finally:
            db.close()

    def close(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._wake.set()
            self._thread.join(timeout)
        self._reader.close()

    # -- the writer thread ---------------------------------------------------------

    def _run(self) -> None:
        try:
            db = cache_db.connect(self.path)
        except (sqlite3.Error, OSError) as exc:
            log.warning("response cache: cannot open %s (%s); nothing will be stored", self.path, exc)
            db = None
        next_purge = 0.0
        stop = False
        while not stop:
            batch = gather(self._queue, self._wake, WRITE_INTERVAL)
            if db is not None:
                now = self.clock()
                if now >= next_purge:
                    next_purge = now + PURGE_EVERY
                    self._guarded(db, self._purge, now)
                self._guarded(db, self._write, batch)
            stop = self._answer(batch)
        if db is not None:
            db.close()

    def _guarded(self, db: sqlite3.Connection, work: Callable[..., None], *args: Any) -> None:
        try:
            work(db, *args)
        except sqlite3.Error as exc:
            log.warning("response cache: write failed (%s)", exc)
            self.dropped += 1
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
        except Exception:  # a bug here must cost entries, not the writer thread
            log.exception("response cache: write failed")

    def _write(self, db: sqlite3.Connection, batch: list[Any]) -> None:
        rows: dict[bytes, tuple[Any, ...]] = {}  # one row per key: the latest answer wins
        touched: dict[bytes, float] = {}
        for item in batch:
            if item is _STOP:
                continue
            if item[0] == "touch":
                touched[item[1]] = item[2]
            elif item[0] == "put":
                entry, check = item[1], item[2]
                try:
                    check()
                except Incomplete as exc:
                    log.debug("response cache: not stored (%s)", exc)
                    self.dropped += 1
                    continue
                rows[entry.key] = entry.row()
            elif item[0] == "clear":
                self._flush_rows(db, rows, touched)
                rows, touched = {}, {}
                item[3]["removed"] = cache_db.clear(db, model=item[1], before=item[2])
                self._recount(db)
        self._flush_rows(db, rows, touched)

    def _flush_rows(self, db: sqlite3.Connection, rows: dict[bytes, tuple[Any, ...]],
                    touched: dict[bytes, float]) -> None:
        if not rows and not touched:
            return
        db.execute("BEGIN")
        if rows:
            replaced = [key for key in rows if key in self._keys]
            self.bytes += sum(row[4] for row in rows.values()) - _replaced_bytes(db, replaced)
            db.executemany(cache_db.INSERT, rows.values())
        if touched:
            db.executemany("UPDATE entries SET used = ? WHERE key = ?",
                           [(used, key) for key, used in touched.items()])
        db.execute("COMMIT")
        self._keys.update(rows)
        if rows and self._over_budget(db):
            self._evict(db)

    def _over_budget(self, db: sqlite3.Connection) -> bool:
        """Whether the entries, or the file they make, fill their share of `max_bytes`.

        The file's own size (three queries) is read again only once another
        `MEASURE_STEP` of `max_bytes` has been stored: read after every batch it
        cost a miss more than the rest of its write.
        """
        if self.bytes > self.max_bytes * FILL:
            return True
        if self.bytes - self._measured < self.max_bytes * MEASURE_STEP:
            return False
        self._measured = self.bytes
        return cache_db.disk_bytes(db) > self.max_bytes * FILL

    def _evict(self, db: sqlite3.Connection) -> None:
        """Drop the least recently used entries until the file is a tenth under its budget.

        The entries' own bytes understate the file (pages part empty, the indexes), by a
        factor that depends on their sizes: the file itself says how much to drop.
        """
        spread = max(1.0, cache_db.disk_bytes(db) / max(1, self.bytes))
        target = self.max_bytes * FILL * 0.9 / spread
        db.execute("BEGIN")
        total = self.bytes
        doomed = []
        for key, size in db.execute("SELECT key, size FROM entries ORDER BY used"):
            if total <= target:
                break
            doomed.append((key,))
            total -= size
        self.bytes = self._measured = total
        db.executemany("DELETE FROM entries WHERE key = ?", doomed)
        db.execute("COMMIT")
        self._keys.difference_update(key for key, in doomed)
        cache_db.give_back(db)
        log.info("response cache: evicted %d entries to stay under %d bytes", len(doomed), self.max_bytes)

    def _purge(self, db: sqlite3.Connection, now: float) -> None:
        removed = db.execute("DELETE FROM entries WHERE expires <= ?", (now,)).rowcount
        if removed:
            cache_db.give_back(db)
            self._recount(db)

    def _recount(self, db: sqlite3.Connection) -> None:
        """After deleting by a condition: what is left, in bytes and keys (a new set, swapped whole)."""
        self.bytes = cache_db.stored_bytes(db)
        self._keys = cache_db.keys(db)

    def _answer(self, batch: list[Any]) -> bool:
        stop = False
        for item in batch:
            if item is _STOP:
                stop = True
            elif item[0] == "flush":
                item[1].set()
            elif item[0] == "clear":
                item[3]["event"].set()
        return stop


def _replaced_bytes(db: sqlite3.Connection, keys: list[bytes]) -> int:
    """What the entries about to be replaced take (a refresh, or the same answer stored twice)."""
    total = 0
    for start in range(0, len(keys), 500):
        part = keys[start:start + 500]
        total += db.execute(f"SELECT COALESCE(SUM(size), 0) FROM entries WHERE key IN "
                            f"({', '.join('?' * len(part))})", part).fetchone()[0]
    return int(total)
