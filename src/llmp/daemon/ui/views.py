"""The dashboard's shapes of what the daemon knows: a request's detail, the effective config.

A request's attempts come from the record the settler thread journaled (see
`telemetry.live_stats`): the deployment of each attempt, and for each failed
one why it failed, as the router noted it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from llmp.core.config_schema import Config
from llmp.core.redact import mask, redact
from llmp.daemon.telemetry.live_stats import Journaled, recent

SECRET_FIELDS = {"api_key", "key", "secret"}  # a key spec: keyring | env:VAR | none | the key itself
_NOT_SECRET = ("keyring", "none")


def detail(entry: Journaled) -> dict[str, Any]:
    record, tried = entry
    failures = record.failures or []
    attempts = []
    for index, (provider, model) in enumerate(tried):
        reason = failures[index].split(": ", 1)[-1] if index < len(failures) else None
        answered = reason is None and record.status < 400
        attempts.append({"n": index + 1, "provider": provider, "model": model,
                         "outcome": "answered" if answered else "failed", "reason": reason})
    return {
        **recent(record),
        "started": record.started,
        "inbound": record.inbound,
        "operation": record.operation,
        "tokens_cached": record.tokens.cached if record.tokens else None,
        "estimated": bool(record.tokens and record.tokens.estimated),
        "attempt_list": attempts,
    }


def find(journal: Iterable[Journaled], request_id: str) -> Journaled | None:
    for entry in journal:
        if entry[0].request_id == request_id:
            return entry
    return None


def masked_config(config: Config) -> dict[str, Any]:
    """The effective config with every key shown masked: literal keys and header values."""
    data = config.model_dump(mode="json")
    _mask_in(data)
    # And anything the redactor knows to be a secret, wherever it sits.
    return orjson.loads(redact(orjson.dumps(data).decode()))


def _mask_in(node: Any) -> None:
    if isinstance(node, dict):
        for name, value in node.items():
            if name == "headers" and isinstance(value, dict):
                node[name] = {header: mask(str(v)) for header, v in value.items()}
            elif name in SECRET_FIELDS and isinstance(value, str):
                if value.lower() not in _NOT_SECRET and not value.startswith("env:"):
                    node[name] = mask(value)
            else:
                _mask_in(value)
    elif isinstance(node, list):
        for item in node:
            _mask_in(item)
