"""Importing aiohttp without the two default TLS contexts it builds as it loads.

Importing aiohttp makes a verifying and a non-verifying `SSLContext`, each
loading the CA store from disk: about 45 ms of the daemon's start and 2 MiB of
its idle memory, for contexts llmp never uses. Every upstream connection llmp
makes is plain HTTP or carries its own context, the OS trust store
(`providers/tls.py`). So while aiohttp loads, its default contexts are made
without loading any CA: should anything ever fall back to aiohttp's verifying
default, that default trusts no certificate and the connection fails, rather
than trusting a store other than the OS's.
"""

from __future__ import annotations

import ssl
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def import_aiohttp() -> None:
    """Load aiohttp, unless something already did, with CA-less default TLS contexts."""
    if "aiohttp" in sys.modules:
        return
    with _contexts_without_ca():
        import aiohttp.connector  # noqa: F401  (its import-time contexts are the point)


def _client_context_without_ca(*_: Any, **__: Any) -> ssl.SSLContext:
    """What `ssl.create_default_context` gives, verifying as strictly, but trusting no CA yet."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _load_no_ca(_: ssl.SSLContext) -> None:
    """`set_default_verify_paths`, skipped: the non-verifying context has no use for a CA."""


@contextmanager
def _contexts_without_ca() -> Iterator[None]:
    make_default = ssl.create_default_context
    ssl.create_default_context = _client_context_without_ca
    ssl.SSLContext.set_default_verify_paths = _load_no_ca  # type: ignore[method-assign]
    try:
        yield
    finally:
        ssl.create_default_context = make_default
        del ssl.SSLContext.set_default_verify_paths  # the inherited one, from _ssl, shows again
