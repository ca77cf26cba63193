"""`llmp usage`: tokens and cost from the ledger, grouped the way you ask.

Reads the SQLite file directly, so it works whether or not the daemon runs.
"""

from __future__ import annotations

import csv
import re
import sqlite3
import sys
import time
from datetime import datetime
from enum import Enum
from typing import Any

import typer

from llmp.cli.console import console, fail, print_json
from llmp.core.paths import resolve_paths
from llmp.core.usage_db import add_columns


class GroupBy(str, Enum):
    provider = "provider"
    model = "model"
    alias = "alias"
    day = "day"
    key = "key"


# What each grouping shows in its first column; the values are SQL expressions over fixed columns.
_GROUP_SQL = {
    GroupBy.provider: "COALESCE(provider, '-')",
    GroupBy.model: "COALESCE(provider || '/' || model, requested_model)",
    GroupBy.alias: "COALESCE(alias, requested_model)",
    GroupBy.day: "date(ts, 'unixepoch', 'localtime')",
    GroupBy.key: "COALESCE(client_key, '-')",
}
FIELDS = ("requests", "errors", "tokens_in", "tokens_out", "tokens_cached", "cost", "estimated",
          "unpriced", "cache_hits", "cache_lookups", "saved", "avg_latency_ms")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: float | None = None) -> float:
    """`30m`, `24h`, `7d`, `2w`, or a date / date-time (local time) -> Unix seconds."""
    now = time.time() if now is None else now
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*", text.lower())
    if match:
        return now - float(match.group(1)) * _UNITS[match.group(2)]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither a duration (30m, 24h, 7d, 2w) nor a date (2026-01-31)"
        ) from None


def summarize(db: sqlite3.Connection, since: float, by: GroupBy) -> list[dict[str, Any]]:
    group = _GROUP_SQL[by]
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


BY = typer.Option(GroupBy.model, "--by", help="Group rows by this.")


def usage(
    since: str = typer.Option("24h", "--since", help="30m, 24h, 7d, 2w or a date (2026-01-31)."),
    by: GroupBy = BY,
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
    csv_output: bool = typer.Option(False, "--csv", help="Print CSV."),
) -> None:
    """Requests, tokens and cost from the usage ledger."""
    start = parse_since(since)
    path = resolve_paths().usage_db
    if not path.exists():
        fail(f"no usage recorded yet ({path} does not exist)")
    try:
        db = sqlite3.connect(path, timeout=5.0)
        add_columns(db)  # a ledger an older llmp wrote
        rows = summarize(db, start, by)
        db.close()
    except sqlite3.Error as exc:
        fail(f"cannot read the usage ledger {path}: {exc}")
    total = totals(rows)
    for row in [*rows, total]:
        row["hit_rate"] = hit_rate(row)
    if json_output:
        print_json({"since": start, "by": by.value, "rows": rows, "total": total})
    elif csv_output:
        writer = csv.writer(sys.stdout)
        writer.writerow([by.value, *FIELDS])
        for row in [*rows, total]:
            writer.writerow([row["name"], *(row[f] for f in FIELDS)])
    else:
        _print_table(rows, total, by, start)


def _print_table(rows: list[dict[str, Any]], total: dict[str, Any], by: GroupBy, start: float) -> None:
    from rich.table import Table

    when = datetime.fromtimestamp(start).strftime("%Y-%m-%d %H:%M")
    table = Table(title=f"usage since {when}", show_footer=bool(rows), title_justify="left")
    table.add_column(by.value, footer="total")
    for header, field in (("requests", "requests"), ("errors", "errors"), ("tokens in", "tokens_in"),
                          ("tokens out", "tokens_out"), ("cached", "tokens_cached")):
        table.add_column(header, justify="right", footer=f"{total[field]:,}")
    table.add_column("cost", justify="right", footer=money(total["cost"]))
    cached = bool(total["cache_hits"] or total["cache_lookups"])  # columns only once the cache was used
    if cached:
        table.add_column("cache hits", justify="right", footer=_hits(total))
        table.add_column("saved", justify="right", footer=money(total["saved"]))
    table.add_column("avg latency", justify="right", footer=f"{total['avg_latency_ms']:,.0f} ms")
    for row in rows:
        note = " ~" if row["estimated"] else ""
        cells = [
            str(row["name"]), f"{row['requests']:,}", f"{row['errors']:,}",
            f"{row['tokens_in']:,}{note}", f"{row['tokens_out']:,}{note}", f"{row['tokens_cached']:,}",
            money(row["cost"]) + (" +?" if row["unpriced"] else ""),
        ]
        if cached:
            cells += [_hits(row), money(row["saved"])]
        table.add_row(*cells, f"{row['avg_latency_ms']:,.0f} ms")
    out = console()
    if not rows:
        out.print(f"no requests since {when}")
        return
    out.print(table)
    if any(row["estimated"] for row in rows):
        out.print("[dim]~ some counts are estimates: the provider reported no usage[/]")
    if any(row["unpriced"] for row in rows):
        out.print("[dim]+? some models have no price: add them under `prices:` in the config[/]")


def _hits(row: dict[str, Any]) -> str:
    rate = row["hit_rate"]
    return f"{row['cache_hits']:,}" + ("" if rate is None else f" ({rate:.0%})")


def money(value: float) -> str:
    return f"${value:,.4f}" if value >= 0.01 or value == 0 else f"${value:.6f}"


def register(app: typer.Typer) -> None:
    app.command()(usage)
