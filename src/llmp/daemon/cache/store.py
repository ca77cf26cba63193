"""Cached answers on disk (SQLite in the data dir) with a small memory front.

Reads happen on the event loop: a hot entry is in the memory front (a dict
lookup); any other is one SELECT by row id on a read connection of its own,
which in WAL mode never waits for the writer. Every stored key is held in
memory with its row's id (about 130 bytes an entry, kept across restarts by
the key file, see `cache_keys`), so a question never asked before, the
cache's commonest case, costs a dict lookup rather than a query, and the
table needs no index on its key. Writes never happen on the loop:
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

from llmp.core import cache_db, cache_keys
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
    rowid: int = 0  # its row's id, once stored (given by the writer)

    def row(self, rowid: int) -> tuple[Any, ...]:
        """The entry as the row `rowid` (values in `cache_db.COLUMNS` order).

        Blobs go as bytearrays: the sqlite3 module binds str, int, float and bytearray
        directly, but looks for an adapter for bytes and None, at a cost (a failed attribute
        lookup, an exception formatted and dropped) larger than the rest of a row's insert.
        """
        meta = _meta(self.inbound, self.operation, self.provider, self.served_model, self.mode,
                     self.content_type, self.usage)
        return (rowid, bytearray(self.key), self.model, meta, bytearray(self.body),
                len(self.body) + len(meta) + cache_db.ROW_OVERHEAD,
                self.created, self.expires, self.created)


#: Meta blobs already encoded (the writer thread's): an answer without usage, as every JSON
#: one is, shares its meta with every other answer its provider gives the same way, and
#: encoding it anew cost a stored answer more than finding it here.
_METAS: dict[tuple[str | None, ...], bytearray] = {}
MAX_METAS = 256


def _meta(*facts: Any) -> bytearray:
    """The replay's facts (`Entry.row`'s order, usage last) as the row's JSON `meta` array."""
    if facts[-1] is not None:
        return bytearray(orjson.dumps(facts))
    meta = _METAS.get(facts)
    if meta is None:
        if len(_METAS) >= MAX_METAS:
            _METAS.clear()
        meta = _METAS[facts] = bytearray(orjson.dumps(facts))
    return meta


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
        #: Key -> row id of the answers in the file: added to by the writer once committed,
        #: taken from by it once deleted (and by a lookup that finds the row gone).
        self._ids, self._next_id = cache_db.row_ids(self._reader, path)
        self._key_log = cache_keys.KeyLog(cache_keys.keys_path(path))  # the writer thread's
        self._thread = threading.Thread(target=self._run, name="llmp-cache-writer", daemon=True)
        self._thread.start()

    # -- on the event loop ---------------------------------------------------------

    def get(self, key: bytes, now: float) -> Entry | None:
        entry = self._front.get(key)
        if entry is not None:
            self._front.move_to_end(key)
        else:
            rowid = self._ids.get(key)
            if rowid is None:
                return None
            try:
                rows = self._reader.execute(
                    "SELECT key, model, meta, body, created, expires FROM entries WHERE id = ?",
                    (rowid,)).fetchall()
            except sqlite3.Error as exc:
                log.warning("response cache: lookup failed (%s)", exc)
                return None
            # fetchall, not fetchone: a statement left unfinished holds a read snapshot, which
            # stops the writer's checkpoints from shrinking the file
            if not rows or rows[0][0] != key:  # the key file outlived the row (a crash)
                if self._ids.get(key) == rowid:
                    del self._ids[key]
                return None
            _, model, meta, body, created, expires = rows[0]
            inbound, operation, provider, served_model, mode, content_type, usage = orjson.loads(meta)
            entry = Entry(key, inbound, operation, model, provider, served_model, mode,
                          content_type, usage, body, created, expires, rowid)
            self._remember(entry)
        if entry.expires <= now:
            self._front.pop(key, None)
            return None
        self._queue.put(("touch", entry.rowid, now))
        return entry

    def holds(self, key: bytes) -> bool:
        """Whether an answer may be stored for `key` (`get` says whether it is, and still fresh)."""
        return key in self._ids or key in self._front

    def put(self, entry: Entry, check: Callable[[], object] | None) -> None:
        """Store an answer once `check` (run on the writer thread) finds it whole (None: found so).

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
        self._key_log.close()

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
        entries: dict[bytes, Entry] = {}  # one row per key: the latest answer wins
        touched: dict[int, float] = {}
        for item in batch:
            if item is _STOP:
                continue
            if item[0] == "touch":
                touched[item[1]] = item[2]
            elif item[0] == "put":
                entry, check = item[1], item[2]
                if check is not None:
                    try:
                        check()
                    except Incomplete as exc:
                        log.debug("response cache: not stored (%s)", exc)
                        self.dropped += 1
                        continue
                entries[entry.key] = entry
            elif item[0] == "clear":
                self._flush_rows(db, entries, touched)
                entries, touched = {}, {}
                removed = cache_db.clear(db, self.path, model=item[1], before=item[2])
                self._forget(removed)
                self.bytes = cache_db.stored_bytes(db)
                item[3]["removed"] = len(removed)
        self._flush_rows(db, entries, touched)

    def _flush_rows(self, db: sqlite3.Connection, entries: dict[bytes, Entry],
                    touched: dict[int, float]) -> None:
        """One transaction: the new rows (under ids never used, noted in the key file first, so
        no row is ever out of its reach), the rows they replace deleted, the hits' times."""
        if not entries and not touched:
            return
        ids, first = self._ids, self._next_id
        replaced = [ids[key] for key in entries if key in ids]
        rows = [entry.row(rowid) for rowid, entry in enumerate(entries.values(), first)]
        if rows:
            self._next_id = first + len(rows)
            self._key_log.append(zip(range(first, self._next_id), entries, strict=True))
        db.execute("BEGIN")
        if rows:
            self.bytes += sum(row[5] for row in rows) - _delete(db, replaced)
            cache_db.insert_entries(db, rows)
        if touched:
            db.executemany("UPDATE entries SET used = ? WHERE id = ?",
                           [(used, rowid) for rowid, used in touched.items()])
        db.execute("COMMIT")
        if rows:
            ids.update(zip(entries, range(first, self._next_id), strict=True))
            if self._over_budget(db):
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
        doomed: list[tuple[int, bytes]] = []
        for rowid, key, size in db.execute("SELECT id, key, size FROM entries ORDER BY used"):
            if total <= target:
                break
            doomed.append((rowid, key))
            total -= size
        self.bytes = self._measured = total
        db.executemany("DELETE FROM entries WHERE id = ?", [(rowid,) for rowid, _ in doomed])
        db.execute("COMMIT")
        self._key_log.append((-rowid, key) for rowid, key in doomed)
        self._forget(doomed)
        cache_db.give_back(db)
        log.info("response cache: evicted %d entries to stay under %d bytes", len(doomed), self.max_bytes)

    def _purge(self, db: sqlite3.Connection, now: float) -> None:
        removed = db.execute("DELETE FROM entries WHERE expires <= ? RETURNING id, key, size",
                             (now,)).fetchall()
        if removed:
            self.bytes -= sum(size for _, _, size in removed)
            gone = [(rowid, key) for rowid, key, _ in removed]
            self._key_log.append((-rowid, key) for rowid, key in gone)
            self._forget(gone)
            cache_db.give_back(db)

    def _forget(self, removed: list[tuple[int, bytes]]) -> None:
        """Deleted rows' keys out of the map (unless a newer row took the key meanwhile)."""
        ids = self._ids
        for rowid, key in removed:
            if ids.get(key) == rowid:
                del ids[key]

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


def _delete(db: sqlite3.Connection, rowids: list[int]) -> int:
    """Delete the rows a refresh replaces (or the same answer stored twice); the bytes they took."""
    total = 0
    for start in range(0, len(rowids), 500):
        part = rowids[start:start + 500]
        total += sum(size for size, in db.execute(
            f"DELETE FROM entries WHERE id IN ({', '.join('?' * len(part))}) RETURNING size", part))
    return total
