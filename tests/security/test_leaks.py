"""Real-looking keys, failing calls of every kind: no key in any log, output or response."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from tests.support.auth_upstream import requires_key
from tests.support.cli import run_llmp
from tests.support.fake_upstream import fail
from tests.support.leaky_adapter import install_plugin

pytestmark = pytest.mark.timeout(180)
KEYS = {
    "auth401": "sk-proj-Q7fT2mB9xL4kP8vN3zR6wY1cJ5hD0sGaE2uI9oKbXm",
    "err500": "sk-ant-api03-Zx8Vb7Nm6Qw5Er4Ty3Ui2Op1As0Df9Gh8Jk7Lz-AbCdEfAA",
    "down": "AIzaSyD4x9Kq2Lm7Np3Rt8Vw1Yz5Bc6Fg0Hj-Ka",
    "leaky": "plain-team-secret-with-no-known-shape-42",
}


def test_no_key_leaks_from_failures(test_keyring, make_upstream, start_daemon, isolated_env: Path,
                                    tmp_path: Path, monkeypatch) -> None:
    refusing, broken = make_upstream(), make_upstream()
    refusing.always(requires_key("sk-proj-a-different-key-entirely-0000000"))
    broken.always(fail(500, {"error": {"message": f"internal failure for key {KEYS['err500']}",
                                       "type": "server_error"}}))
    plugins = install_plugin(tmp_path / "plugins")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(plugins),
                                                                  os.environ.get("PYTHONPATH")])))
    config = f"""
logging: {{level: debug}}
providers:
  auth401: {{type: openai, base_url: "{refusing.url}/v1", models: [m1]}}
  err500: {{type: openai, base_url: "{broken.url}/v1", models: [m2]}}
  down: {{type: openai, base_url: "http://127.0.0.1:9/v1", models: [m3]}}
  leaky: {{type: leaky, base_url: "{refusing.url}/v1", models: [m4]}}
"""
    (isolated_env / "config.yaml").write_text(config)
    outputs: list[str] = []
    for name in ("auth401", "err500"):
        stored = run_llmp("keys", "set", name, "--stdin", stdin=KEYS[name])
        outputs += [stored.out, stored.err]
    monkeypatch.setenv("DOWN_API_KEY", KEYS["down"])
    monkeypatch.setenv("LEAKY_API_KEY", KEYS["leaky"])
    state = start_daemon(config)

    statuses = []
    with httpx.Client(base_url=state.base_url, timeout=30) as client:
        for model in ("auth401/m1", "err500/m2", "down/m3", "leaky/m4"):
            for stream in (False, True):
                response = client.post("/v1/chat/completions", json={
                    "model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
                statuses.append(response.status_code)
                outputs += [response.text, json.dumps(dict(response.headers))]
        admin = {"Authorization": f"Bearer {state.token}"}
        outputs.append(client.get("/admin/providers", headers=admin).text)
    assert statuses == [401, 401, 500, 500, 502, 502, 500, 500]

    for command in (("keys", "list"), ("keys", "list", "--json"), ("keys", "test"),
                    ("keys", "test", "--json"), ("status", "--json"), ("logs", "-n", "500")):
        result = run_llmp(*command)
        outputs += [result.out, result.err]
    run_llmp("stop")
    direct = run_llmp("keys", "test", "leaky")  # no daemon now: the CLI calls the adapter itself
    assert direct.code == 1 and "adapter bug" in direct.out
    outputs += [direct.out, direct.err]

    logs = {p.name: p.read_text(errors="replace") for p in (isolated_env / "logs").iterdir()}
    assert "adapter bug" in logs["llmp.log"]  # the adapter's exception was logged...
    everything = "\n".join([*outputs, *logs.values()])
    assert "sk-…KbXm" in everything  # ...and the keys appear only masked
    for name, key in KEYS.items():
        assert key not in everything, f"the {name} key leaked"
