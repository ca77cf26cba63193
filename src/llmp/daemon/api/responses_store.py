"""Stored responses, so `previous_response_id` works with any provider.

OpenAI keeps a response's conversation on its side when `store` is true (the
default) and a later request names it with `previous_response_id`; no other
provider does. llmp keeps, per stored response, the conversation up to and
including its answer (the items only: no headers, no keys) in SQLite in the data
folder, bounded by age and total size, oldest first out.

Every database call runs on one background thread so the event loop never
waits on the disk; writes are not awaited by the request, and past a bound of
pending writes they are dropped and counted.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from llmp.core.private_file import private_database

log = logging.getLogger("llmp.daemon")

MAX_PENDING_WRITES = 256
_DDL = """
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY, created REAL NOT NULL, size INTEGER NOT NULL,
    conversation BLOB NOT NULL, response BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS responses_created ON responses (created);
"""


class ResponseStore:
    def __init__(self, path: Path, max_age: float, max_bytes: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.path, self.max_age, self.max_bytes, self.clock = path, max_age, max_bytes, clock
        self.pending = 0
        self.dropped = 0
        self._db: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="llmp-responses")

    async def get(self, response_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
        """A stored response's conversation (its answer included) and response object, if still kept."""
        row = await asyncio.get_running_loop().run_in_executor(self._thread, self._get, response_id)
        if row is None:
            return None
        return orjson.loads(row[0]), orjson.loads(row[1])

    async def delete(self, response_id: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._delete, response_id)

    def put(self, response_id: str, conversation: list[dict[str, Any]], response: dict[str, Any]) -> None:
        """Queue a response for storing; the caller does not wait for the disk."""
        if self.pending >= MAX_PENDING_WRITES:
            self.dropped += 1
            return
        self.pending += 1
        future = asyncio.get_running_loop().run_in_executor(
            self._thread, self._put, response_id, orjson.dumps(conversation), orjson.dumps(response))
        future.add_done_callback(self._written)  # called on the loop, as `pending` is only touched there

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        if self._db is not None:
            self._db.close()

    def _written(self, future: asyncio.Future[None]) -> None:
        self.pending -= 1
        if future.exception() is not None:
            self.dropped += 1
            log.warning("a response could not be stored: %s", future.exception())

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            private_database(self.path)  # private before anything is in it
            db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
            db.executescript(_DDL)
            self._db = db
        return self._db

    def _get(self, response_id: str) -> tuple[bytes, bytes] | None:
        row = self._connection().execute(
            "SELECT conversation, response FROM responses WHERE id = ? AND created >= ?",
            (response_id, self.clock() - self.max_age)).fetchone()
        return None if row is None else (row[0], row[1])

    def _delete(self, response_id: str) -> bool:
        return self._connection().execute("DELETE FROM responses WHERE id = ?", (response_id,)).rowcount > 0

    def _put(self, response_id: str, conversation: bytes, response: bytes) -> None:
        db = self._connection()
        now = self.clock()
        db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)",
                   (response_id, now, len(conversation) + len(response), conversation, response))
        db.execute("DELETE FROM responses WHERE created < ?", (now - self.max_age,))
        total = db.execute("SELECT COALESCE(SUM(size), 0) FROM responses").fetchone()[0]
        while total > self.max_bytes:
            oldest = db.execute("SELECT id, size FROM responses ORDER BY created LIMIT 64").fetchall()
            if not oldest:
                break
            for old_id, size in oldest:
                db.execute("DELETE FROM responses WHERE id = ?", (old_id,))
                total -= size
                if total <= self.max_bytes:
                    break
