"""Request and response bodies in the ledger, only with `usage.log_bodies: true`.

Prompts can hold secrets a developer pasted, so what is stored is redacted:
anything shaped like an API key or bearer token is masked the way llmp masks
keys everywhere else (`sk-…abcd`). Streamed answers are not stored: they were
never held whole, and assembling them would put a copy on the hot path.
"""

from __future__ import annotations

import re
import time

from aiohttp import web

from llmp.core.keys import mask
from llmp.daemon.telemetry.ledger import Ledger

_KEY_LIKE = re.compile(
    r"(?:\b(?:sk|pk|rk|gsk|xai|csk|key)[-_][A-Za-z0-9_\-]{12,})"  # sk-..., gsk_..., xai-...
    r"|(?:\bAIza[0-9A-Za-z_\-]{20,})"  # Google
    r"|(?<=Bearer )[A-Za-z0-9._\-]{12,}"
    r"|(?:\b[A-Za-z0-9_\-]{32,}\b)"  # any long opaque token
)


def redact(text: str) -> str:
    return _KEY_LIKE.sub(lambda match: mask(match.group(0)), text)


async def record_bodies(ledger: Ledger, request: web.Request, response: web.StreamResponse,
                        request_id: str) -> None:
    raw = await request.read()  # aiohttp keeps the body it already read: no second read
    answer = response.body if isinstance(response, web.Response) else None
    ledger.record_bodies(
        request_id, time.time(),
        redact(raw.decode("utf-8", "replace")) if raw else None,
        redact(answer.decode("utf-8", "replace")) if isinstance(answer, bytes) else None,
    )
