"""Model names in upstream URLs: always one quoted path segment, never a way out of the base URL.

A client chooses the model name, so it is data: `/`, `?`, `#` and `%` in it are
escaped, and a name that is only dots (a `.` or `..` segment, which a client
library or server would normalise into climbing out of the path) is refused.
"""

from __future__ import annotations

from urllib.parse import quote

from llmp.daemon.errors import ErrorKind, UpstreamError


def path_segment(name: str, provider: str) -> str:
    """`name` quoted to stand as exactly one segment of a URL's path."""
    if not name.strip("."):
        raise UpstreamError(ErrorKind.BAD_REQUEST, f"'{name}' cannot name a model of provider '{provider}'",
                            status=400, provider=provider, param="model", code="invalid_model")
    return quote(name, safe="")
