"""The cache key: which requests are the same question.

The key is a hash of the request as the client sent it (the model it asked
for, messages, tools and every parameter) less the fields that do not change
the answer, plus what else does change it: the client's wire format and
operation, the client's identity when client auth is on (one client never
receives another's answer), and an extra the format declares (Anthropic's
`anthropic-beta` header). Keys are sorted before hashing, so the order a
client happens to write its JSON in does not split one question in two.

The fields left out are labels for the caller's and the provider's books:
how the answer is delivered, who asks (`user`, `safety_identifier`), the
provider's own prompt-cache hints (`prompt_cache_key`, `prompt_cache_retention`)
and a client's bookkeeping (`metadata`, `client_metadata`). Agents fill the
last ones with a new session id on every run (Codex CLI does), so keeping them
would make every run of the same task a miss.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

#: Fields that never change an answer: how it is delivered, and labels for the caller's books.
IGNORED = frozenset({"stream", "stream_options", "user", "metadata", "request_id", "client_metadata",
                     "safety_identifier", "prompt_cache_key", "prompt_cache_retention"})


def cache_key(inbound: str, operation: str, client: str | None, body: dict[str, Any],
              extra: str | None = None) -> bytes:
    """A 20-byte digest of everything that makes up the answer to this request."""
    kept = body if IGNORED.isdisjoint(body) else {
        name: value for name, value in body.items() if name not in IGNORED}
    payload = orjson.dumps((inbound, operation, client, extra, kept),
                           option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(payload, digest_size=20).digest()
