"""`llmp usage`: tokens and cost from the ledger, grouped the way you ask.

Reads the SQLite file directly, so it works whether or not the daemon runs.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import sys
import time
from datetime import datetime
from enum import Enum
from typing import Any

import typer

from llmp.cli.command_table import command_help
from llmp.cli.console import console, fail, print_json
from llmp.core.paths import resolve_paths
from llmp.core.usage_db import add_columns
from llmp.core.usage_report import hit_rate, summarize, totals, write_csv


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


def _flush_running_daemon() -> None:
    """A running daemon commits what it has counted, so a request just made shows up."""
    from llmp.cli.admin_client import DaemonUnreachable, admin_request
    from llmp.cli.daemon_control import live_state

    state = live_state(resolve_paths())
    if state is None:
        return
    with contextlib.suppress(DaemonUnreachable):  # an older daemon, or a busy one: read what is there
        admin_request(state, "POST", "/admin/usage/flush", timeout=5.0)


BY = typer.Option(GroupBy.model, "--by", help="Group rows by this.")


def usage(
    since: str = typer.Option("24h", "--since", help="30m, 24h, 7d, 2w or a date (2026-01-31)."),
    by: GroupBy = BY,
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
    csv_output: bool = typer.Option(False, "--csv", help="Print CSV."),
    wide: bool = typer.Option(False, "--wide", help="Every column, exact counts and costs."),
) -> None:
    start = parse_since(since)
    _flush_running_daemon()
    path = resolve_paths().usage_db
    if not path.exists():
        fail(f"no usage recorded yet ({path} does not exist)")
    try:
        db = sqlite3.connect(path, timeout=5.0)
        add_columns(db)  # a ledger an older llmp wrote
        rows = summarize(db, start, by.value)
        db.close()
    except sqlite3.Error as exc:
        fail(f"cannot read the usage ledger {path}: {exc}")
    total = totals(rows)
    for row in [*rows, total]:
        row["hit_rate"] = hit_rate(row)
    if json_output:
        print_json({"since": start, "by": by.value, "rows": rows, "total": total})
    elif csv_output:
        write_csv(sys.stdout, by.value, rows, total)
    else:
        _print_table(rows, total, by, start, wide)


def _print_table(rows: list[dict[str, Any]], total: dict[str, Any], by: GroupBy, start: float,
                 wide: bool) -> None:
    from llmp.cli.tables import Column, count, duration_ms, money, render

    when = datetime.fromtimestamp(start).strftime("%Y-%m-%d %H:%M")
    out = console()
    if not rows:
        out.print(f"no requests since {when}")
        return
    exact = (lambda n: f"{n:,}") if wide else count  # --wide: every token counted, not 1.2k
    cost = (lambda c: f"${c:,.8f}".rstrip("0").rstrip(".")) if wide else money
    columns = [
        Column(by.value, footer="total"),
        Column("requests", "number", footer=exact(total["requests"])),
        Column("errors", "number", optional=1, footer=exact(total["errors"])),
        Column("tokens in", "number", footer=exact(total["tokens_in"])),
        Column("tokens out", "number", footer=exact(total["tokens_out"])),
        Column("cached", "number", optional=3, footer=exact(total["tokens_cached"])),
        Column("cost", "number", footer=cost(total["cost"])),
    ]
    cached = bool(total["cache_hits"] or total["cache_lookups"])  # columns only once the cache was used
    if cached:
        columns += [Column("cache hits", "number", optional=4, footer=_hits(total)),
                    Column("saved", "number", optional=4, footer=cost(total["saved"]))]
    columns.append(Column("latency", "number", optional=2, footer=duration_ms(total["avg_latency_ms"])))
    table = []
    for row in rows:
        note = " ~" if row["estimated"] else ""
        table.append([
            row["name"], exact(row["requests"]), exact(row["errors"]),
            exact(row["tokens_in"]) + note, exact(row["tokens_out"]) + note,
            exact(row["tokens_cached"]), cost(row["cost"]) + (" +?" if row["unpriced"] else ""),
            *([_hits(row), cost(row["saved"])] if cached else []),
            duration_ms(row["avg_latency_ms"]),
        ])
    render(out, columns, table, title=f"usage since {when}", wide=wide, footer=True)
    if any(row["estimated"] for row in rows):
        out.print("[dim]~ some counts are estimates: the provider reported no usage[/]")
    if any(row["unpriced"] for row in rows):
        out.print("[dim]+? some models have no price: add them under `prices:` in the config[/]")


def _hits(row: dict[str, Any]) -> str:
    rate = row["hit_rate"]
    return f"{row['cache_hits']:,}" + ("" if rate is None else f" ({rate:.0%})")


def register(app: typer.Typer) -> None:
    app.command(help=command_help("usage"))(usage)
