"""Importing aiohttp without the two default TLS contexts it builds as it loads, nor the
system's MIME type table.

Importing aiohttp makes a verifying and a non-verifying `SSLContext`, each
loading the CA store from disk: about 45 ms of the daemon's start and 2 MiB of
its idle memory, for contexts llmp never uses. Every upstream connection llmp
makes is plain HTTP or carries its own context, the OS trust store
(`providers/tls.py`). So while aiohttp loads, its default contexts are made
without loading any CA: should anything ever fall back to aiohttp's verifying
default, that default trusts no certificate and the connection fails, rather
than trusting a store other than the OS's.

aiohttp also makes a `mimetypes.MimeTypes` for the files it serves (llmp
serves none through it), and making one first reads the system's tables
(`/etc/mime.types` and the like: about 0.3 MiB of idle memory) into the
module's global one. The instance is built as usual, from Python's own table;
the global table is left to be read on its first use, as if aiohttp had not
touched it.
"""

from __future__ import annotations

import mimetypes
import ssl
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def import_aiohttp() -> None:
    """Load aiohttp, unless something already did, with CA-less default TLS contexts."""
    if "aiohttp" in sys.modules:
        return
    with _contexts_without_ca(), _system_mime_types_unread():
        # What matters is what these modules make as they load: the TLS contexts, the MimeTypes.
        import aiohttp.connector
        import aiohttp.web_fileresponse  # noqa: F401


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


@contextmanager
def _system_mime_types_unread() -> Iterator[None]:
    if mimetypes.inited:  # read already: nothing to spare
        yield
        return
    mimetypes.inited = True  # a new MimeTypes does not read them into the global table
    try:
        yield
    finally:
        mimetypes.inited = False  # the global table reads them when first asked
