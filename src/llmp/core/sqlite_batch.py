"""Inserting a writer thread's batch of rows, many to a statement (the usage ledger, the response cache).

`executemany` runs one SQLite step per row, and each step lets go of the GIL
and takes it back: a writer thread inserting row by row hands the GIL to and
from the event loop hundreds of times per batch, which costs the loop more
than the inserts themselves. A statement of its own for each batch size would
be parsed afresh every time (a statement of 32 rows costs more to parse than
to run), so a batch goes as full statements of the most rows one may carry and
the rest as the powers of two it is made of: a few texts, each prepared once
and then taken from the connection's statement cache.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

#: Values one statement may bind: older SQLite builds allow no more than 999.
MAX_VALUES = 999


class BatchInsert:
    """`INSERT ... VALUES (...), (...)` for one table's columns, run as few statements as a batch allows."""

    def __init__(self, head: str, columns: Sequence[str]) -> None:
        """`head` is the statement up to its column list (`INSERT INTO t`, `INSERT OR REPLACE INTO t`)."""
        most = MAX_VALUES // len(columns)
        self.rows_per_statement = 1 << (most.bit_length() - 1)  # the largest power of two that fits
        row = f"({', '.join('?' * len(columns))})"
        prefix = f"{head} ({', '.join(columns)}) VALUES "
        self._statements = {
            rows: prefix + ", ".join([row] * rows)
            for rows in (1 << power for power in range(self.rows_per_statement.bit_length()))
        }

    def __call__(self, db: sqlite3.Connection, rows: Sequence[tuple[object, ...]]) -> None:
        """Insert `rows` (values in the columns' order) within the caller's transaction."""
        start, left, full = 0, len(rows), self.rows_per_statement
        while left:
            count = full if left >= full else 1 << (left.bit_length() - 1)
            db.execute(self._statements[count],
                       [value for row in rows[start:start + count] for value in row])
            start, left = start + count, left - count


def _bind_none_directly() -> None:
    """Bind `None` as NULL without the adaptation lookup that otherwise runs for each one.

    The sqlite3 module binds int, float and str as they are but looks every
    other value up as something to adapt, and for `None` that lookup fails
    with an exception made and dropped inside the module: a row of the ledger
    holds several, and the failed lookups cost about a quarter of its insert.
    An adapter registered for `None` answers the lookup at once with `None`
    itself (a dict's `get` of a key it lacks), which binds NULL as before.
    """
    sqlite3.register_adapter(type(None), {}.get)


_bind_none_directly()
