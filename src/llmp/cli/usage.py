"""`llmp usage`: tokens and cost from the ledger, grouped the way you ask.

Reads the SQLite file directly, so it works whether or not the daemon runs.
"""

from __future__ import annotations

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
from llmp.core.usage_report import summarize, totals, write_csv


class GroupBy(str, Enum):
    provider = "provider"
    model = "model"
    alias = "alias"
    day = "day"
    key = "key"


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
        rows = summarize(db, start, by.value)
        db.close()
    except sqlite3.Error as exc:
        fail(f"cannot read the usage ledger {path}: {exc}")
    total = totals(rows)
    if json_output:
        print_json({"since": start, "by": by.value, "rows": rows, "total": total})
    elif csv_output:
        write_csv(sys.stdout, by.value, rows, total)
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
    table.add_column("avg latency", justify="right", footer=f"{total['avg_latency_ms']:,.0f} ms")
    for row in rows:
        note = " ~" if row["estimated"] else ""
        table.add_row(
            str(row["name"]), f"{row['requests']:,}", f"{row['errors']:,}",
            f"{row['tokens_in']:,}{note}", f"{row['tokens_out']:,}{note}", f"{row['tokens_cached']:,}",
            money(row["cost"]) + (" +?" if row["unpriced"] else ""),
            f"{row['avg_latency_ms']:,.0f} ms",
        )
    out = console()
    if not rows:
        out.print(f"no requests since {when}")
        return
    out.print(table)
    if any(row["estimated"] for row in rows):
        out.print("[dim]~ some counts are estimates: the provider reported no usage[/]")
    if any(row["unpriced"] for row in rows):
        out.print("[dim]+? some models have no price: add them under `prices:` in the config[/]")


def money(value: float) -> str:
    return f"${value:,.4f}" if value >= 0.01 or value == 0 else f"${value:.6f}"


def register(app: typer.Typer) -> None:
    app.command()(usage)
