"""On an address other machines reach, with client keys on, what describes the gateway needs a key.

`/metrics` and `/openapi.json` show the providers, models, request counts and
costs; `/v1/models` every name a client may ask for. On loopback only this
machine's programs reach them (Prometheus on localhost scrapes without a key).
"""

from __future__ import annotations

import httpx
import pytest

TEAM_KEY = "llmp-team-key-exposed-0123456789"
MOCK = """
providers:
  mock:
    type: mock
    models: [mock-1]
"""
INFORMATIONAL = ["/metrics", "/openapi.json", "/v1/models"]


def config(host: str) -> str:
    return f"server:\n  host: \"{host}\"\n  auth:\n    keys:\n      team: {{key: env:TEAM_KEY}}\n" + MOCK


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_exposed_gateway_answers_what_describes_it_only_to_clients(make_gateway, monkeypatch,
                                                                    host: str) -> None:
    monkeypatch.setenv("TEAM_KEY", TEAM_KEY)
    gateway = make_gateway(config(host))
    for path in INFORMATIONAL:
        anonymous = httpx.get(gateway.url + path)
        assert anonymous.status_code == 401, path
        assert anonymous.json()["error"]["type"] == "authentication_error"
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        assert "mock-1" not in anonymous.text
        wrong = httpx.get(gateway.url + path, headers={"Authorization": "Bearer not-the-key"})
        assert wrong.status_code == 401, path
        keyed = httpx.get(gateway.url + path, headers={"Authorization": f"Bearer {TEAM_KEY}"})
        assert keyed.status_code == 200, path
    health = httpx.get(gateway.url + "/healthz")  # load balancers probe it without a key
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}  # that it answers, not which llmp it is


def test_loopback_gateway_keeps_metrics_and_openapi_open(make_gateway, monkeypatch) -> None:
    monkeypatch.setenv("TEAM_KEY", TEAM_KEY)
    gateway = make_gateway(config("127.0.0.1"))
    assert "llmp_" in httpx.get(gateway.url + "/metrics").text
    assert httpx.get(gateway.url + "/openapi.json").json()["openapi"]
    assert "version" in httpx.get(gateway.url + "/healthz").json()
    assert httpx.get(gateway.url + "/v1/models").status_code == 401  # the client API still needs its key
