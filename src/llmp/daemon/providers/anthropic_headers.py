"""The Anthropic client's own headers, handed from the inbound API to the Anthropic adapter.

A module of its own so the inbound API and the cache can set and read them
without loading the adapter, which is imported only when an Anthropic
provider is configured.
"""

from __future__ import annotations

from contextvars import ContextVar

#: The `anthropic-beta` and `anthropic-version` headers of the Anthropic client being served.
#: They change what a body means, so a pass-through must carry them; the inbound API sets
#: this per request.
CLIENT_HEADERS: ContextVar[dict[str, str] | None] = ContextVar("anthropic_client_headers",
                                                              default=None)
