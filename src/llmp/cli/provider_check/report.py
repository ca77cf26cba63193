"""Showing `llmp test` results: a table for people, one JSON object for scripts.

Error messages come from upstreams, and some upstreams quote the key they were
sent ("Incorrect API key provided: sk-..."). Every detail is passed through
`redact` first: known key values, and anything shaped like a key, are replaced
by `core.keys.mask` so a pasted test report never leaks a key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from llmp.cli.provider_check.checks import Check, ProviderReport
from llmp.core.keys import mask

# A known key prefix and a long tail, or a long run of letters and digits with both:
# keys look like this, model names ("claude-3-5-sonnet-20241022") do not.
_KEY_LIKE = re.compile(
    r"\b(?:sk|pk|rk|gsk|xai|pplx|key|api|AIza)[-_][-_A-Za-z0-9]{12,}"
    r"|\bAIza[-_A-Za-z0-9]{20,}"
    r"|\b(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{24,}\b"
)
SYMBOLS = {"ok": "✓", "fail": "✗", "skip": "-"}
STYLES = {"ok": "green", "fail": "red", "skip": "dim"}


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, mask(secret))
    return _KEY_LIKE.sub(lambda match: mask(match.group(0)), text)


def latency(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.2f} s"


def as_json(reports: list[ProviderReport], mode: str) -> dict[str, Any]:
    return {
        "mode": mode,
        "ok": all(report.ok for report in reports),
        "providers": [
            {
                "provider": report.provider,
                "model": report.model,
                "ok": report.ok,
                "checks": [_check_json(check, report.secrets) for check in report.checks],
            }
            for report in reports
        ],
    }


def _check_json(check: Check, secrets: list[str]) -> dict[str, Any]:
    return {
        "check": check.name,
        "status": check.status,
        "latency_ms": None if check.latency_ms is None else round(check.latency_ms, 1),
        "detail": redact(check.detail, secrets),
        "error_kind": check.kind,
    }


def print_table(console: Any, reports: list[ProviderReport], where: str, wide: bool = False) -> None:
    from llmp.cli.tables import Column, Styled, render

    rows: list[list[Any] | None] = []
    for index, report in enumerate(reports):
        if index:
            rows.append(None)
        for row, check in enumerate(report.checks):
            label: Any = report.provider if row == 0 else (
                Styled(report.model, "dim") if row == 1 and report.model else "")
            rows.append([label, check.name, Styled(SYMBOLS[check.status], STYLES[check.status]),
                         latency(check.latency_ms), redact(check.detail, report.secrets)])
    columns = [Column("provider"), Column("check"), Column("ok"), Column("latency", "number"),
               Column("detail", "text")]
    render(console, columns, rows, title=f"llmp test · {where}", wide=wide)
    failing = [report.provider for report in reports if not report.ok]
    if failing:
        console.print(f"[red]✗[/] {len(failing)} of {len(reports)} failing: "
                      f"{_escape(', '.join(failing))}", soft_wrap=True)
    else:
        console.print(f"[green]✓[/] {len(reports)} of {len(reports)} healthy")


def _escape(text: str) -> str:
    from llmp.cli.tables import cell

    return cell(text)
