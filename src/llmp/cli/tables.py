"""Tables that fit the terminal without losing what identifies a row.

Every table of the CLI goes through `render`: each value passes through
`cell` once (the single place a value from a client, an upstream or a config
becomes terminal text), and each column says what kind of value it holds:

* `id`: a name or model: never shortened, never wrapped while anything else
  can give way;
* `url`: shortened in the middle of its path if it must be, never in
  `scheme://host:port` nor in its last segment;
* `path`: a file path: shortened in the middle, the file name kept;
* `text`: prose (details, errors, model lists): wraps;
* `number`: right-aligned, already rounded for people (see `count`, `money`).

Columns marked `optional` are dropped, highest rank first, when the table would not
fit; `--wide` keeps them all and lets lines run as long as they need.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from llmp.cli.visible import visible

Kind = Literal["id", "url", "path", "text", "number", "plain"]
ELLIPSIS = "…"
URL_ROOM = 40  # longest URL shown whole in a narrow table
PATH_ROOM = 40


@dataclass(frozen=True)
class Column:
    header: str
    kind: Kind = "id"
    optional: int = 0  # 0: always shown; otherwise dropped when space runs out, highest first
    footer: str = ""


def cell(value: Any) -> str:
    """A value as rich markup that prints literally, its control characters as escapes: the one
    door every table value goes through (model names, errors and paths come from clients and
    upstreams)."""
    from rich.markup import escape

    return escape(visible("-" if value is None else str(value)))


def shorten_url(url: str, room: int = URL_ROOM) -> str:
    """`https://host:port/a/b/c/last` -> `https://host:port/…/last` when longer than `room`."""
    if len(url) <= room:
        return url
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    if not slash or not path:
        return url  # nothing but scheme://host:port: every character identifies it
    last = path.rstrip("/").rsplit("/", 1)[-1]
    shown = f"{scheme}{sep}{host}/{ELLIPSIS}/{last}"
    return shown if len(shown) < len(url) else url


def shorten_path(path: str, room: int = PATH_ROOM) -> str:
    """Keep the start and the file name of a long path: `/home/me/…/llmp/config.yaml`."""
    if len(path) <= room:
        return path
    for separator in ("/", "\\"):
        head, sep, name = path.rpartition(separator)
        if sep:
            keep = max(room - len(name) - 2, 8)
            return f"{head[:keep]}{ELLIPSIS}{sep}{name}"
    return path


def count(value: int | float | None) -> str:
    """1234 -> 1.2k, 5_600_000 -> 5.6M: what a person reads at a glance (JSON keeps the exact)."""
    if value is None:
        return "-"
    number = float(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= limit:
            shown = f"{number / limit:.1f}".removesuffix(".0")
            return f"{shown}{suffix}"
    return f"{int(number)}" if number == int(number) else f"{number:.1f}"


def money(value: float | None) -> str:
    """Dollars to the first digit that matters: $12.34, $0.05, $0.0003, $0."""
    if value is None:
        return "-"
    if value == 0:
        return "$0"
    if value >= 0.01:
        return f"${value:,.2f}"
    if value < 1e-6:
        return "<$0.000001"
    digits = -math.floor(math.log10(value))
    return f"${value:.{digits}f}"


def duration_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.1f} s"


def _shown(value: str, kind: Kind, shorten: bool) -> str:
    if not shorten:
        return value
    if kind == "url":
        return shorten_url(value)
    if kind == "path":
        return shorten_path(value)
    return value


def render(
    out: Any, columns: Sequence[Column], rows: Sequence[Sequence[Any] | None], *,
    title: str | None = None, wide: bool = False, footer: bool = False, header: bool = True,
) -> None:
    """Print a table of `rows` (values, or `Styled` values) that fits `out`'s width.

    A row that is `None` starts a new section (a blank line between groups of rows).
    """
    table, needed = build(out.width, columns, rows, title=title, wide=wide, footer=footer)
    table.show_header = header
    if wide and needed > out.width:  # as wide as the values need: the terminal wraps, nothing is cut
        from rich.console import Console

        out = Console(file=out.file, width=needed, no_color=out.no_color,
                      color_system=out.color_system, force_terminal=out.is_terminal)
    out.print(table)


def build(
    limit: int, columns: Sequence[Column], rows: Sequence[Sequence[Any] | None], *,
    title: str | None = None, wide: bool = False, footer: bool = False,
) -> tuple[Any, int]:
    """The rich Table for `limit` columns, and the width it needs.

    What gives way, in order, while the table is too wide: prose wraps down to
    a floor; long URLs and paths lose their middles; optional columns go, last
    first; URLs and paths wrap. Names, models and numbers never give way.
    """
    chosen = list(columns)
    data = _cells(columns, rows, shorten=False)
    natural = _widths(columns, data)
    if not wide and _least(chosen, natural, fold=False) > limit:
        data = _cells(columns, rows, shorten=True)
        natural = _widths(columns, data)
        while _least(chosen, natural, fold=False) > limit and _drop_optional(chosen):
            pass
    widths = dict(natural)
    if not wide:
        _share(chosen, widths, limit)
    return _table(chosen, columns, data, title, widths, footer), _total(chosen, widths)


def _cells(columns: Sequence[Column], rows: Sequence[Sequence[Any] | None],
           shorten: bool) -> list[list[str] | None]:
    return [None if row is None else [_styled(value, column.kind, shorten)
                                      for value, column in zip(row, columns, strict=True)]
            for row in rows]


def _widths(columns: Sequence[Column], data: list[list[str] | None]) -> dict[str, int]:
    from rich.text import Text

    widths = {}
    for index, column in enumerate(columns):
        cells = [Text.from_markup(row[index]).cell_len for row in data if row is not None]
        widths[column.header] = max([len(column.header), len(column.footer), *cells])
    return widths


_PROSE = ("text", "plain")
_LOCATION = ("url", "path")
PROSE_FLOOR = 10
LOCATION_FLOOR = 24


def _floor(column: Column, natural: int, fold: bool) -> int:
    """The narrowest a column may get: prose wraps, locations wrap only when `fold`."""
    if column.kind in _PROSE:
        return min(natural, max(len(column.header), PROSE_FLOOR))
    if column.kind in _LOCATION and fold:
        return min(natural, max(len(column.header), LOCATION_FLOOR))
    return natural


def _least(chosen: list[Column], widths: dict[str, int], fold: bool) -> int:
    return sum(_floor(c, widths[c.header], fold) for c in chosen) + 2 * (len(chosen) - 1)


def _total(chosen: list[Column], widths: dict[str, int]) -> int:
    return sum(widths[column.header] for column in chosen) + 2 * (len(chosen) - 1)


def _share(chosen: list[Column], widths: dict[str, int], limit: int) -> None:
    """Narrow prose columns, the widest first, then URLs and paths, until the table fits."""
    for kinds, fold in ((_PROSE, False), (_LOCATION, True)):
        excess = _total(chosen, widths) - limit
        giving = [c for c in chosen if c.kind in kinds]
        while excess > 0 and giving:
            widest = max(giving, key=lambda c: widths[c.header])
            floor = max(len(widest.header), LOCATION_FLOOR if fold else PROSE_FLOOR)
            if widths[widest.header] <= floor:
                giving.remove(widest)
                continue
            widths[widest.header] -= 1
            excess -= 1


@dataclass(frozen=True)
class Styled:
    """A value printed with a rich style (e.g. a state shown in red); the value still goes
    through `cell`."""

    value: Any
    style: str


def _styled(value: Any, kind: Kind, shorten: bool) -> str:
    if isinstance(value, Styled):
        inner = cell(_shown(str(value.value), kind, shorten))
        return f"[{value.style}]{inner}[/]" if value.style else inner
    if value is None:
        return cell(None)
    return cell(_shown(str(value), kind, shorten))


def _drop_optional(chosen: list[Column]) -> bool:
    optional = [column for column in chosen if column.optional]
    if not optional:
        return False
    chosen.remove(max(optional, key=lambda column: column.optional))
    return True


def _table(
    chosen: list[Column], columns: Sequence[Column], data: list[list[str] | None],
    title: str | None, widths: dict[str, int], footer: bool,
) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=None, pad_edge=False,
                  show_footer=footer, show_edge=False)
    for column in chosen:
        table.add_column(
            column.header, footer=column.footer, width=widths[column.header],
            justify="right" if column.kind == "number" else "left",
            no_wrap=column.kind not in (*_PROSE, *_LOCATION), overflow="fold",
        )
    indexes = [columns.index(column) for column in chosen]
    for row in data:
        if row is None:  # a blank line between sections: no box, so every column's width is its own
            table.add_row(*("" for _ in indexes))
            continue
        table.add_row(*(row[i] for i in indexes))
    return table


def duration(seconds: float | None) -> str:
    """An uptime as `1h 02m 03s` (hours only when there are any)."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"
