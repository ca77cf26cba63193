"""Does a provider's key work? One real authenticated call, through the adapter itself.

The adapter's `list_models` is the cheapest authenticated request every
provider API offers; calling it through the adapter means the check uses the
same URL, headers and error classification as real traffic. Adapters that do
not override it make no call, so their keys cannot be checked this way.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from llmp.core.redact import redact
from llmp.daemon.errors import ErrorKind, UpstreamError
from llmp.daemon.providers.base import Provider

log = logging.getLogger("llmp.security")
CHECK_TIMEOUT = 20.0
_UNREACHABLE = {ErrorKind.CONNECTION, ErrorKind.TIMEOUT}


async def check_key(provider: Provider, timeout: float = CHECK_TIMEOUT) -> dict[str, Any]:
    """`result`: valid | invalid | unreachable | error | no_key | not_needed | untestable."""
    report: dict[str, Any] = {
        "provider": provider.name, "source": provider.key.source, "key": provider.key.masked,
    }
    if not provider.key.present:
        return {**report, "result": "not_needed" if provider.key.source == "none" else "no_key"}
    if type(provider).list_models is Provider.list_models:
        return {**report, "result": "untestable",
                "detail": f"the {provider.type_name} adapter has no authenticated call to test with"}
    try:
        await asyncio.wait_for(provider.list_models(), timeout)
    except asyncio.TimeoutError:
        return {**report, "result": "unreachable", "detail": f"no answer within {timeout:g}s"}
    except UpstreamError as error:
        if error.kind == ErrorKind.AUTH:
            result = "invalid"
        elif error.kind in _UNREACHABLE:
            result = "unreachable"
        else:
            result = "error"
        return {**report, "result": result, "status": error.status, "detail": redact(error.message)}
    except Exception as exc:  # an adapter's bug: report it (redacted) rather than crash the check
        log.exception("checking the key of provider '%s' failed", provider.name)
        return {**report, "result": "error", "detail": redact(f"{type(exc).__name__}: {exc}")}
    return {**report, "result": "valid"}
