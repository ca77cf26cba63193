"""Upstream HTTPS is verified against the operating system's trust store."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import trustme

from llmp.core.state import read_state
from llmp.daemon.providers.tls import upstream_tls
from tests.daemon.routing_support import MODEL, healthy, provider_yaml
from tests.support.cli import run_llmp
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


def test_the_started_daemon_verifies_upstreams_against_the_os_store(
    company_ca, https_upstream, isolated_env: Path, tmp_path: Path, monkeypatch
) -> None:
    """The daemon process loads aiohttp without its default TLS contexts' CAs: its own
    context, the OS store, is what verifies, trusted CA or not."""
    bundle = tmp_path / "os-ca-bundle.pem"
    company_ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    config = tmp_path / "config.yaml"
    config.write_text("defaults:\n  retry: {attempts: 0}\nproviders:\n"
                      + provider_yaml("corp", https_upstream.url)
                      + provider_yaml("stranger", https_upstream.url.replace("127.0.0.1", "localhost")))
    assert run_llmp("start", "--port", "0", "--config", str(config)).code == 0
    try:
        client = openai.OpenAI(base_url=read_state(isolated_env / "daemon.json").base_url + "/v1",
                               api_key="unused", max_retries=0)
        answer = client.chat.completions.create(model="corp/" + MODEL,
                                                messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content
        with pytest.raises(openai.APIStatusError):  # the certificate names 127.0.0.1, not localhost
            client.chat.completions.create(model="stranger/" + MODEL,
                                           messages=[{"role": "user", "content": "hi"}])
    finally:
        run_llmp("stop")
    assert https_upstream.count("/chat/completions") == 1


def test_aiohttps_own_default_contexts_trust_nothing_in_the_daemon(
        company_ca, tmp_path: Path) -> None:
    """Should anything fall back to aiohttp's verifying default, it fails closed; and the
    standard library's own default is untouched once aiohttp has loaded."""
    probe = (
        "from llmp.daemon.lean_aiohttp import import_aiohttp\n"
        "import_aiohttp()\n"
        "import ssl, aiohttp.connector as c\n"
        "print(c._SSL_CONTEXT_VERIFIED.verify_mode == ssl.CERT_REQUIRED,"
        " c._SSL_CONTEXT_VERIFIED.cert_store_stats()['x509_ca'],"
        " ssl.create_default_context().cert_store_stats()['x509_ca'] > 0)\n"
    )
    bundle = tmp_path / "os-ca-bundle.pem"
    company_ca.cert_pem.write_to_path(str(bundle))
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         env={**os.environ, "SSL_CERT_FILE": str(bundle)}).stdout
    assert out.split() == ["True", "0", "True"]
