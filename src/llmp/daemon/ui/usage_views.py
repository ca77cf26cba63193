"""What the dashboard reads from the usage ledger: today's totals, the last hour, usage by group.

Each function opens the SQLite file read-only and runs in a worker thread (the
callers use `asyncio.to_thread`), so the event loop never waits on the disk;
the daemon's own writer keeps the file in WAL mode, so reading never blocks it.
"""

from __future__ import annotations

import io
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from llmp.core.usage_report import summarize, totals, write_csv
from llmp.daemon.telemetry.live_stats import percentile

HOUR = 3600.0
BUCKET = 60.0  # seconds per point of the last hour's charts
MAX_HOUR_ROWS = 200_000  # a busy hour: the newest rows are enough for the charts


@contextmanager
def _reading(path: Path) -> Iterator[sqlite3.Connection | None]:
    if not path.exists():
        yield None
        return
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)) as db:
        yield db


def today_totals(path: Path) -> dict[str, Any] | None:
    """Requests, tokens and cost since local midnight."""
    midnight = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    try:
        with _reading(path) as db:
            if db is None:
                return {"requests": 0, "tokens": 0, "cost": 0.0}
            count, tokens, cost = db.execute(
                "SELECT COUNT(*), SUM(tokens_in + tokens_out), SUM(COALESCE(cost, 0)) "
                "FROM requests WHERE ts >= ?", (midnight,)).fetchone()
    except sqlite3.Error:
        return None
    return {"requests": count, "tokens": tokens or 0, "cost": round(cost or 0.0, 8)}


def last_hour(path: Path, now: float | None = None) -> list[dict[str, Any]]:
    """Per-minute points of the last hour: request rate, error rate, p50/p95 latency, p50 TTFT."""
    now = time.time() if now is None else now
    try:
        with _reading(path) as db:
            rows = [] if db is None else db.execute(
                "SELECT ts, latency_ms, ttft_ms, status FROM requests WHERE ts >= ? "
                "ORDER BY ts DESC LIMIT ?", (now - HOUR, MAX_HOUR_ROWS)).fetchall()
    except sqlite3.Error:
        return []
    buckets: dict[int, list[tuple[float, float | None, int]]] = {}
    for ts, latency, ttft, status in rows:
        buckets.setdefault(int(ts // BUCKET), []).append((latency or 0.0, ttft, status))
    points = []
    for minute in sorted(buckets):
        bucket = buckets[minute]
        latencies = sorted(b[0] for b in bucket)
        firsts = sorted(b[1] for b in bucket if b[1] is not None)
        points.append({
            "t": min(minute * BUCKET + BUCKET / 2, now),
            "rps": round(len(bucket) / BUCKET, 3),
            "error_rate": round(sum(1 for b in bucket if b[2] >= 400) / len(bucket), 4),
            "latency_p50_ms": percentile(latencies, 0.5),
            "latency_p95_ms": percentile(latencies, 0.95),
            "ttft_p50_ms": percentile(firsts, 0.5),
        })
    return points


def usage(path: Path, since: float, by: str) -> dict[str, Any]:
    with _reading(path) as db:
        rows = [] if db is None else summarize(db, since, by)
    return {"since": since, "by": by, "rows": rows, "total": totals(rows)}


def usage_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    write_csv(out, report["by"], report["rows"], report["total"])
    return out.getvalue()


def bodies(path: Path, request_id: str) -> dict[str, Any] | None:
    """The stored request and response bodies of one request (`usage.log_bodies`)."""
    try:
        with _reading(path) as db:
            row = None if db is None else db.execute(
                "SELECT request, response FROM bodies WHERE request_id = ?", (request_id,)).fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else {"request": row[0], "response": row[1]}
