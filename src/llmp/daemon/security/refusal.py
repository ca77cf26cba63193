"""Refusals written in the client's own wire format, before any handler ran.

The security checks run in the guard, ahead of the handler that knows its
format, so the format is told from the path: Anthropic's API lives under
`/v1/messages`, everything else speaks OpenAI's shape.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from llmp.daemon.api.anthropic_wire import PATH_PREFIX as ANTHROPIC_PREFIX
from llmp.daemon.api.anthropic_wire import error_payload as anthropic_error
from llmp.daemon.telemetry.request_log_context import REQUEST_ID_VAR


def openai_error(message: str, error_type: str, code: str | None = None) -> dict[str, object]:
    """OpenAI's error object, the shape of every answer llmp gives outside Anthropic's API."""
    return {"error": {"message": message, "type": error_type, "param": None, "code": code}}


def refuse(
    request: web.BaseRequest,
    status: int,
    message: str,
    error_type: str,
    *,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """The one error answer for requests no handler took: the guard's and the screen's alike."""
    if request.path.startswith(ANTHROPIC_PREFIX):  # Anthropic clients read Anthropic's error shape
        body: dict[str, object] = anthropic_error(status, message, error_type)
    else:
        body = openai_error(message, error_type, code)
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        headers={
            "Content-Type": "application/json",
            "x-request-id": REQUEST_ID_VAR.get() or "",
            **(headers or {}),
        },
    )
