"""The TLS context for every upstream connection: the operating system's trust store.

`truststore` verifies certificates the way the OS does: the Keychain on
macOS, CryptoAPI on Windows, and on Linux the distribution's CA bundle
wherever it lives (Debian, Fedora/RHEL, Alpine, SUSE), `SSL_CERT_FILE`
included. So a corporate root CA the IT department installed (a
TLS-inspecting proxy) is trusted, and a one-file build does not depend on the
CA path compiled into the OpenSSL it carries, which is the build machine's.
One context serves every provider; it is made once, when the first provider
starts.
"""

from __future__ import annotations

import functools
import ssl


@functools.cache
def upstream_tls() -> ssl.SSLContext:
    import truststore

    return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
