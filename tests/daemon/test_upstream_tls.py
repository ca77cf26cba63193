"""Upstream HTTPS is verified against the operating system's trust store."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import trustme

from llmp.daemon.providers.tls import upstream_tls
from tests.daemon.routing_support import MODEL, healthy, provider_yaml
from tests.support.fake_upstream import FakeUpstream


@pytest.fixture
def company_ca() -> trustme.CA:
    """A private root CA, as a company's TLS-inspecting proxy uses."""
    return trustme.CA()


@pytest.fixture
def https_upstream(company_ca: trustme.CA) -> Iterator[FakeUpstream]:
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    company_ca.issue_cert("127.0.0.1").configure_cert(server_side)
    upstream = FakeUpstream().always(healthy()).start(ssl_context=server_side)
    yield upstream
    upstream.stop()


def test_an_upstream_signed_by_a_ca_the_os_trusts_is_served(
    company_ca, https_upstream, make_gateway, tmp_path: Path, monkeypatch
) -> None:
    # SSL_CERT_FILE is how OpenSSL-based systems (and truststore on Linux) name the OS bundle.
    bundle = tmp_path / "os-ca-bundle.pem"
    company_ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    assert https_upstream.url.startswith("https://")
    gateway = make_gateway("providers:\n" + provider_yaml("corp", https_upstream.url))
    answer = gateway.openai().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content
    assert https_upstream.count("/chat/completions") == 1


def test_an_upstream_the_os_does_not_trust_is_refused(
    https_upstream, make_gateway, tmp_path: Path, monkeypatch
) -> None:
    empty = tmp_path / "no-such-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(empty))  # some other CA: not the upstream's
    monkeypatch.setenv("SSL_CERT_FILE", str(empty))
    gateway = make_gateway("defaults:\n  retry: {attempts: 0}\nproviders:\n"
                           + provider_yaml("corp", https_upstream.url))
    with pytest.raises(openai.APIStatusError) as refused:
        gateway.openai().chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert refused.value.status_code >= 500
    assert https_upstream.count("/chat/completions") == 0


def test_the_context_is_the_os_trust_store_and_verifies_hosts() -> None:
    import truststore

    context = upstream_tls()
    assert isinstance(context, truststore.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert upstream_tls() is context  # one context for every provider
