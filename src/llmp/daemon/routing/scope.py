"""Whose failure was it: one deployment's (provider + model), or the whole provider's?

One model failing must not silence a provider: a model that is retired,
overloaded or rate limited says nothing about the provider's other models,
and one client's traffic to one model would otherwise make the provider
unavailable to everyone. So an HTTP error answered for one model (5xx, 404,
429, a cut answer, a slow whole answer) counts against that deployment only.

Evidence about the provider itself is what cannot depend on the model: the
connection was refused or reset, DNS or TLS failed, it timed out connecting
or sending its first token, the key was refused (auth), the account's credit
is spent (quota). The provider's own breaker also opens when failures come
from at least two of its deployments (see `CircuitBreaker`).

A 429 with Retry-After blocks the deployment it came from; the whole
provider only when the upstream says the limit is the account's: a message
that speaks of the account, organization or project without naming the model
(OpenAI names the model when the limit is per model: "Rate limit reached for
gpt-4o in organization ...").
"""

from __future__ import annotations

import re

from llmp.daemon.errors import ErrorKind, UpstreamError

_PROVIDER_KINDS = frozenset({ErrorKind.CONNECTION, ErrorKind.AUTH, ErrorKind.QUOTA})
_PROVIDER_TIMEOUTS = frozenset({"connect_timeout", "first_token_timeout"})
_ACCOUNT_WORDS = re.compile(r"\b(account|organi[sz]ation|project|tenant|subscription)\b", re.I)


def provider_wide(error: UpstreamError) -> bool:
    """The failure says the provider as a whole is unwell, whatever model was asked for."""
    if error.kind in _PROVIDER_KINDS:
        return True
    return error.kind is ErrorKind.TIMEOUT and error.code in _PROVIDER_TIMEOUTS


def account_wide_limit(error: UpstreamError, model: str) -> bool:
    """A rate limit the upstream says is the account's, not this model's."""
    text = f"{error.code or ''} {error.message}"
    return bool(_ACCOUNT_WORDS.search(text)) and model.lower() not in text.lower()
