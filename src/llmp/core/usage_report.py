"""Tokens and cost from the usage ledger, grouped: what `llmp usage` prints and the dashboard shows.

Plain SQLite reads over `usage_db`'s table, so the CLI (which reads the file
itself, daemon or not) and the daemon's dashboard group and total the same way.
"""

from __future__ import annotations

import csv
import sqlite3
from typing import IO, Any

# What each grouping shows in its first column; the values are SQL expressions over fixed columns.
GROUP_SQL: dict[str, str] = {
    "provider": "COALESCE(provider, '-')",
    "model": "COALESCE(provider || '/' || model, requested_model)",
    "alias": "COALESCE(alias, requested_model)",
    "day": "date(ts, 'unixepoch', 'localtime')",
    "key": "COALESCE(client_key, '-')",
}
FIELDS = ("requests", "errors", "tokens_in", "tokens_out", "tokens_cached", "cost", "estimated",
          "unpriced", "cache_hits", "cache_lookups", "saved", "avg_latency_ms")


def summarize(db: sqlite3.Connection, since: float, by: str) -> list[dict[str, Any]]:
    group = GROUP_SQL[by]
    query = f"""
        SELECT {group} AS name, COUNT(*), SUM(status >= 400), SUM(tokens_in), SUM(tokens_out),
               SUM(tokens_cached), SUM(COALESCE(cost, 0)), SUM(estimated),
               SUM(cost IS NULL AND status < 400), SUM(cache_hit),
               SUM(cache_result IN ('hit', 'miss')), SUM(COALESCE(cost_saved, 0)), AVG(latency_ms)
        FROM requests WHERE ts >= ? GROUP BY name ORDER BY SUM(COALESCE(cost, 0)) DESC, name
    """  # the grouping expression comes from the fixed table above, never from input
    rows = []
    for name, *values in db.execute(query, (since,)):
        row = {"name": name, **dict(zip(FIELDS, values, strict=True))}
        row["avg_latency_ms"] = round(row["avg_latency_ms"] or 0.0, 1)
        row["cost"] = round(row["cost"] or 0.0, 8)
        row["saved"] = round(row["saved"] or 0.0, 8)
        rows.append(row)
    return rows


def hit_rate(row: dict[str, Any]) -> float | None:
    """Hits among the requests the response cache looked up (None when it looked up none)."""
    return round(row["cache_hits"] / row["cache_lookups"], 4) if row["cache_lookups"] else None


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {"name": "total"}
    for field in FIELDS[:-1]:
        total[field] = sum(row[field] or 0 for row in rows)
    total["cost"] = round(total["cost"], 8)
    total["saved"] = round(total["saved"], 8)
    count = total["requests"]
    total["avg_latency_ms"] = round(
        sum((row["avg_latency_ms"] or 0) * row["requests"] for row in rows) / count, 1
    ) if count else 0.0
    return total


def write_csv(out: IO[str], by: str, rows: list[dict[str, Any]], total: dict[str, Any]) -> None:
    writer = csv.writer(out)
    writer.writerow([by, *FIELDS])
    for row in [*rows, total]:
        writer.writerow([row["name"], *(row[f] for f in FIELDS)])
