"""Does a provider's key work? The same checks, in the same order, as `llmp test`.

First the model listing, through the adapter itself (the cheapest authenticated
request most provider APIs offer, with the same URL, headers and error
classification as real traffic). When the upstream has no listing, or the
listing fails for a reason that is not the key, a one-token completion of the
first configured chat model decides, exactly as `llmp test` settles its
"authenticated" check: so `llmp keys test` and `llmp test` never disagree.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from llmp.core.keys import missing_key_message
from llmp.core.model_names import can_chat
from llmp.core.redact import redact
from llmp.daemon.errors import ErrorKind, UpstreamError
from llmp.daemon.providers.base import Provider

log = logging.getLogger("llmp.security")
CHECK_TIMEOUT = 20.0
_UNREACHABLE = {ErrorKind.CONNECTION, ErrorKind.TIMEOUT}


async def check_key(provider: Provider, timeout: float = CHECK_TIMEOUT) -> dict[str, Any]:
    """`result`: valid | invalid | unreachable | error | no_key | not_needed."""
    report: dict[str, Any] = {
        "provider": provider.name, "source": provider.key.source, "state": provider.key.state,
        "key": provider.key.masked,
    }
    if provider.key_missing:
        return {**report, "result": "no_key",
                "detail": missing_key_message(provider.name, provider.key.variable)}
    if provider.key.source == "none":
        return {**report, "result": "not_needed"}
    listing = "the upstream lists no models"
    if provider.lists_models():
        outcome = await _call(provider.list_models(), timeout)
        if outcome is None or outcome["result"] != "error":
            return {**report, **(outcome or {"result": "valid"})}
        listing = f"model list unavailable: {outcome['detail']}"
    model = next((m for m in provider.config.models if m != "*" and can_chat(m)), None)
    if model is None:
        return {**report, "result": "error",
                "detail": f"{listing}, and no chat model is configured to test the key with"}
    outcome = await _call(provider.probe_completion(model), timeout)
    if outcome is None:
        return {**report, "result": "valid", "detail": f"a completion of {model} was accepted"}
    return {**report, **outcome}


async def _call(call: Any, timeout: float) -> dict[str, Any] | None:
    """None when the call succeeded, else the result and detail it amounts to."""
    try:
        await asyncio.wait_for(call, timeout)
    except asyncio.TimeoutError:
        return {"result": "unreachable", "detail": f"no answer within {timeout:g}s"}
    except UpstreamError as error:
        if error.kind == ErrorKind.AUTH:
            result = "invalid"
        elif error.kind in _UNREACHABLE:
            result = "unreachable"
        else:
            result = "error"
        return {"result": result, "status": error.status, "detail": redact(error.message)}
    except Exception as exc:  # an adapter's bug: report it (redacted) rather than crash the check
        log.exception("checking a key failed")
        return {"result": "error", "detail": redact(f"{type(exc).__name__}: {exc}")}
    return None
