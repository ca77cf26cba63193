"""`llmp cache stats` and `llmp cache clear`: the response cache from the terminal.

`stats` reads the cache file and the usage ledger directly (hits, hit rate and
money saved are ledger rows), so it works whether or not the daemon runs.
`clear` goes through the running daemon, so its memory front forgets the same
answers; with no daemon it deletes from the file itself.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from typing import Any

import typer

from llmp.cli.command_table import command_help
from llmp.cli.console import console, fail, print_json
from llmp.cli.tables import money
from llmp.cli.usage import parse_since
from llmp.core import cache_db
from llmp.core.paths import resolve_paths
from llmp.core.usage_db import add_columns
from llmp.core.usage_report import hit_rate

app = typer.Typer(help=command_help("cache"), no_args_is_help=True)


@app.command()
def stats(
    since: str | None = typer.Option(None, "--since", help="Count hits since 30m, 24h, 7d or a date "
                                     "(default: everything the ledger holds)."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Entries and bytes in the cache; hits, hit rate and money saved from the usage ledger."""
    paths = resolve_paths()
    start = parse_since(since) if since else 0.0
    held: dict[str, Any] = {"entries": 0, "bytes": 0, "expired": 0, "oldest": None, "models": []}
    if paths.cache_db.exists():
        try:
            db = cache_db.connect(paths.cache_db, readonly=True)
            held = cache_db.stats(db, time.time())
            db.close()
        except sqlite3.Error as exc:
            fail(f"cannot read the response cache {paths.cache_db}: {exc}")
    result = {"file": str(paths.cache_db), **held, "file_bytes": _file_bytes(paths.cache_db),
              **_ledger_figures(start)}
    if json_output:
        print_json(result)
        return
    out = console()
    out.print(f"response cache [bold]{result['file']}[/]", highlight=False)
    out.print(f"  entries  {result['entries']:,} ({result['expired']:,} expired)")
    out.print(f"  bytes    {result['bytes']:,} in entries, {result['file_bytes']:,} on disk")
    rate = result["hit_rate"]
    out.print(f"  hits     {result['hits']:,} of {result['lookups']:,} lookups"
              + ("" if rate is None else f" ({rate:.0%})"))
    out.print(f"  saved    {money(result['saved'])}")


@app.command()
def clear(
    model: str | None = typer.Option(None, "--model", "-m", help="Only answers to this model or alias."),
    older_than: str | None = typer.Option(None, "--older-than",
                                          help="Only answers stored longer ago: 30m, 24h, 7d, 2w."),
) -> None:
    """Delete cached answers (all of them unless narrowed)."""
    from llmp.cli.admin_client import DaemonRefused, DaemonUnreachable, admin_request
    from llmp.cli.daemon_control import live_state

    paths = resolve_paths()
    before = parse_since(older_than) if older_than else None
    state = live_state(paths)
    if state is not None:
        try:
            result = admin_request(state, "POST", "/admin/cache/clear", timeout=60.0,
                                   json={"model": model, "before": before})
        except DaemonUnreachable as exc:
            fail(exc.message if isinstance(exc, DaemonRefused) else str(exc))
        removed = int(result["removed"])
    elif paths.cache_db.exists():
        try:
            db = cache_db.connect(paths.cache_db)
            removed = len(cache_db.clear(db, paths.cache_db, model=model, before=before))
            db.close()
        except sqlite3.Error as exc:
            fail(f"cannot clear the response cache {paths.cache_db}: {exc}")
    else:
        removed = 0
    console().print(f"removed {removed:,} cached answer{'s' if removed != 1 else ''}")


def _ledger_figures(start: float) -> dict[str, Any]:
    path = resolve_paths().usage_db
    figures: dict[str, Any] = {"hits": 0, "lookups": 0, "hit_rate": None, "saved": 0.0}
    if not path.exists():
        return figures
    try:
        db = sqlite3.connect(path, timeout=5.0)
        add_columns(db)
        hits, lookups, saved = db.execute(
            "SELECT COALESCE(SUM(cache_hit), 0), COALESCE(SUM(cache_result IN ('hit', 'miss')), 0),"
            " COALESCE(SUM(cost_saved), 0) FROM requests WHERE ts >= ?", (start,)).fetchone()
        db.close()
    except sqlite3.Error as exc:
        fail(f"cannot read the usage ledger {path}: {exc}")
    figures.update(hits=hits, lookups=lookups, saved=round(saved, 8),
                   hit_rate=hit_rate({"cache_hits": hits, "cache_lookups": lookups}))
    return figures


def _file_bytes(path: Any) -> int:
    """The cache on disk: its file and SQLite's write-ahead log beside it."""
    total = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(OSError):
            total += (path.parent / (path.name + suffix)).stat().st_size
    return total


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="cache")
