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

Columns marked `optional` are dropped, last first, when the table would not
fit; `--wide` keeps them all and lets lines run as long as they need.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["id", "url", "path", "text", "number", "plain"]
ELLIPSIS = "…"
URL_ROOM = 40  # longest URL shown whole in a narrow table
PATH_ROOM = 48


@dataclass(frozen=True)
class Column:
    header: str
    kind: Kind = "id"
    optional: bool = False
    footer: str = ""


def cell(value: Any) -> str:
    """A value as rich markup that prints literally: the one door every table value goes through."""
    from rich.markup import escape

    return escape("-" if value is None or value == "" else str(value))


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
    title: str | None = None, wide: bool = False, footer: bool = False, sections: bool = False,
) -> None:
    """Print a table of `rows` (values, or `Styled` values) that fits `out`'s width.

    A row that is `None` starts a new section (a rule between groups of rows).
    """
    table, needed = build(out.width, columns, rows, title=title, wide=wide, footer=footer,
                          sections=sections)
    if wide and needed > out.width:  # as wide as the values need: the terminal wraps, nothing is cut
        from rich.console import Console

        out = Console(file=out.file, width=needed, no_color=out.no_color,
                      color_system=out.color_system, force_terminal=out.is_terminal)
    out.print(table)


def build(
    limit: int, columns: Sequence[Column], rows: Sequence[Sequence[Any] | None], *,
    title: str | None = None, wide: bool = False, footer: bool = False, sections: bool = False,
) -> tuple[Any, int]:
    """The rich Table for `limit` columns, and the width it needs.

    Identifying columns keep their whole width; optional columns go, last
    first, only when shortening long URLs and paths and wrapping prose is not
    enough; prose columns share what is left.
    """
    chosen = list(columns)
    data = _cells(columns, rows, shorten=False)
    natural = _widths(columns, data)
    if not wide and _least(chosen, natural) > limit:
        data = _cells(columns, rows, shorten=True)  # long URLs and paths give up their middles
        natural = _widths(columns, data)
        while _least(chosen, natural) > limit and _drop_optional(chosen):
            pass
    widths = dict(natural)
    if not wide:
        _share(chosen, widths, limit)
    return _table(chosen, columns, data, title, widths, footer, sections), _total(chosen, widths)


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


def _floor(column: Column, natural: int) -> int:
    """The narrowest a column gets: its whole width unless it holds prose."""
    return min(natural, max(len(column.header), 10)) if column.kind in _FLEXIBLE else natural


def _least(chosen: list[Column], widths: dict[str, int]) -> int:
    return sum(_floor(c, widths[c.header]) for c in chosen) + 2 * (len(chosen) - 1)


def _total(chosen: list[Column], widths: dict[str, int]) -> int:
    return sum(widths[column.header] for column in chosen) + 2 * (len(chosen) - 1)


def _share(chosen: list[Column], widths: dict[str, int], limit: int) -> None:
    """Give prose columns what identifying columns leave, the widest giving way first."""
    excess = _total(chosen, widths) - limit
    flexible = sorted((c for c in chosen if c.kind in _FLEXIBLE), key=lambda c: -widths[c.header])
    while excess > 0 and flexible:
        widest = flexible[0]
        if widths[widest.header] <= min(widths[widest.header], max(len(widest.header), 10)):
            flexible.pop(0)
            continue
        widths[widest.header] -= 1
        excess -= 1
        flexible.sort(key=lambda c: -widths[c.header])


_FLEXIBLE = ("text", "path", "plain")


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
    for column in reversed(chosen):
        if column.optional:
            chosen.remove(column)
            return True
    return False


def _table(
    chosen: list[Column], columns: Sequence[Column], data: list[list[str] | None],
    title: str | None, widths: dict[str, int], footer: bool, sections: bool,
) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD if sections else None,
                  pad_edge=False, show_footer=footer, show_edge=False)
    for column in chosen:
        table.add_column(
            column.header, footer=column.footer, width=widths[column.header],
            justify="right" if column.kind == "number" else "left",
            no_wrap=column.kind not in _FLEXIBLE, overflow="fold",
        )
    indexes = [columns.index(column) for column in chosen]
    for row in data:
        if row is None:
            table.add_section()
            continue
        table.add_row(*(row[i] for i in indexes))
    return table
