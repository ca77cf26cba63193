"""A key set or removed with `llmp keys` reaches the running daemon without a restart."""

from __future__ import annotations

import json

import openai
import pytest

from tests.support.auth_upstream import requires_key
from tests.support.cli import run_llmp

pytestmark = pytest.mark.timeout(120)
OLD = "sk-old-key-aaaaaaaaaaaaaaaa1111"
NEW = "sk-new-key-bbbbbbbbbbbbbbbb2222"


def key_test(name: str) -> dict:
    result = run_llmp("keys", "test", name, "--json")
    return json.loads(result.out)


def test_daemon_uses_a_key_set_or_removed_while_it_runs(test_keyring, upstream, start_daemon,
                                                        isolated_env) -> None:
    upstream.always(requires_key(NEW))
    config = f"""
providers:
  up:
    type: openai
    base_url: {upstream.url}/v1
    models: [gpt-4o-mini]
"""
    (isolated_env / "config.yaml").write_text(config)
    before = run_llmp("keys", "set", "up", "--stdin", stdin=OLD)
    assert before.code == 0 and "not running" in before.out
    state = start_daemon(config)
    client = openai.OpenAI(base_url=state.base_url + "/v1", api_key="unused", max_retries=0)

    def ask() -> str:
        answer = client.chat.completions.create(
            model="up/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        return answer.choices[0].message.content

    with pytest.raises(openai.AuthenticationError) as refused:
        ask()
    # the upstream's refusal (its echo of the key masked), or llmp's own once the health
    # check at start has found the key refused
    assert OLD not in str(refused.value)
    assert "sk-…1111" in str(refused.value) or "llmp keys set up" in str(refused.value)
    report = key_test("up")
    assert report["via"] == "daemon" and report["results"][0]["result"] == "invalid"

    changed = run_llmp("keys", "set", "up", "--stdin", stdin=NEW)
    assert changed.code == 0 and "the running daemon now uses it" in changed.out
    assert ask() == "authorised"
    assert upstream.requests[-1].headers["Authorization"] == f"Bearer {NEW}"
    assert key_test("up")["results"][0]["result"] == "valid"

    assert run_llmp("keys", "rm", "up").code == 0
    with pytest.raises(openai.AuthenticationError):
        ask()
    assert "Authorization" not in upstream.requests[-1].headers
    events = [json.loads(line)["event"]
              for line in (isolated_env / "logs" / "audit.log").read_text().splitlines()]
    # The daemon writes its lines from a background thread: compare without order.
    assert sorted(events) == ["key_removed", "key_set", "key_set", "keys_reloaded", "keys_reloaded"]


def test_a_refused_key_is_read_again_lazily(test_keyring, upstream, make_gateway) -> None:
    """A key changed behind llmp's back (no `llmp keys`) is picked up after the upstream refuses."""
    import asyncio

    from llmp.core import keyring_store
    from llmp.daemon.security.policy import SECURITY

    keyring_store.put("up", OLD)
    gateway = make_gateway(f"""
providers:
  up: {{type: openai, base_url: "{upstream.url}/v1", models: [gpt-4o-mini]}}
""")
    refresher = gateway.server.app[SECURITY].key_refresher
    refresher.clock = lambda: 1000.0
    client = gateway.openai()

    def ask() -> str:
        answer = client.chat.completions.create(
            model="up/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        return answer.choices[0].message.content

    async def settle() -> None:
        await asyncio.gather(*list(refresher.pending))

    def refused_then_settled() -> None:
        with pytest.raises(openai.AuthenticationError):
            ask()
        # The re-read (if any) was scheduled before the 401 was sent: let it finish.
        gateway.server.call(settle())

    upstream.always(requires_key(NEW))
    keyring_store.put("up", NEW)  # behind llmp's back: nobody tells the daemon
    refused_then_settled()
    assert ask() == "authorised"
    assert upstream.requests[-1].headers["Authorization"] == f"Bearer {NEW}"

    newer = "sk-newer-key-cccccccccccccccc3333"
    upstream.always(requires_key(newer))
    keyring_store.put("up", newer)
    refused_then_settled()  # within 30 s of the last re-read: the key is not read again
    refused_then_settled()
    refresher.clock = lambda: 1031.0
    refused_then_settled()
    assert ask() == "authorised"


def test_the_admin_key_endpoints_read_their_body(make_gateway, isolated_env) -> None:
    """`llmp keys set NAME` asks for NAME alone; a body the daemon cannot read is a 400, not 'all'."""
    import httpx

    gateway = make_gateway("""
providers:
  one: {type: mock, models: [m1]}
  two: {type: mock, models: [m2]}
""")
    headers = gateway.admin_headers()

    def post(path: str, body: bytes) -> httpx.Response:
        return httpx.post(gateway.url + path, content=body, headers=headers)

    assert post("/admin/keys/reload", b'{"name": "two"}').json()["reloaded"] == ["two"]
    assert post("/admin/keys/reload", b"").json()["reloaded"] == ["one", "two"]
    assert [r["provider"] for r in post("/admin/keys/test", b'{"provider": "one"}').json()["results"]] \
        == ["one"]
    assert post("/admin/keys/test", b'{"provider": "nope"}').status_code == 404
    for path in ("/admin/keys/reload", "/admin/keys/test"):
        for bad in (b"{", b'{"name": 5, "provider": 5}'):
            refused = post(path, bad)
            assert refused.status_code == 400, refused.text
            assert refused.json()["error"]["type"] == "invalid_request_error"
    events = [json.loads(line) for line in (isolated_env / "logs" / "audit.log").read_text().splitlines()]
    assert [(e["event"], e["name"]) for e in events] == [("keys_reloaded", "two"), ("keys_reloaded", None)]


def test_a_slow_keyring_does_not_stall_other_requests(test_keyring, make_gateway, monkeypatch) -> None:
    """Re-reading keys waits on the keyring (D-Bus, an unlock prompt) off the event loop."""
    import threading

    import httpx

    gateway = make_gateway("providers:\n  up: {type: openai, base_url: 'http://127.0.0.1:9/v1'}\n")
    entered, release = threading.Event(), threading.Event()
    plain_lookup = type(test_keyring).get_password

    def slow_lookup(self, service: str, username: str) -> str | None:
        entered.set()
        release.wait(30)
        return plain_lookup(self, service, username)

    monkeypatch.setattr(type(test_keyring), "get_password", slow_lookup)
    result: list[httpx.Response] = []
    reload = threading.Thread(target=lambda: result.append(httpx.post(
        gateway.url + "/admin/keys/reload", headers=gateway.admin_headers(), timeout=30)))
    reload.start()
    try:
        assert entered.wait(30)
        assert httpx.get(gateway.url + "/healthz", timeout=5).status_code == 200  # not stalled
    finally:
        release.set()
        reload.join(30)
    assert result[0].json()["reloaded"] == ["up"]


def test_keys_set_says_now_uses_it_only_when_the_daemon_does(
        test_keyring, upstream, start_daemon, isolated_env, monkeypatch) -> None:
    """A key in the environment wins over the keyring: setting one there changes nothing."""
    upstream.always(requires_key(NEW))
    monkeypatch.setenv("UP_API_KEY", OLD)  # the daemon (a child) inherits it
    state = start_daemon(f"""
providers:
  up:
    type: openai
    base_url: {upstream.url}/v1
    models: [gpt-4o-mini]
""")
    client = openai.OpenAI(base_url=state.base_url + "/v1", api_key="unused", max_retries=0)
    for _ in range(2):  # the upstream's refusal, then llmp's own while the key is unchanged
        with pytest.raises(openai.AuthenticationError) as refused:
            client.chat.completions.create(model="up/gpt-4o-mini",
                                           messages=[{"role": "user", "content": "hi"}])
    message = str(refused.value)
    assert "UP_API_KEY" in message and "restart" in message  # where the key really comes from
    assert "llmp keys set" not in message

    changed = run_llmp("keys", "set", "up", "--stdin", stdin=NEW)
    assert changed.code == 0
    assert "now uses it" not in changed.out
    assert "UP_API_KEY" in changed.out  # what the daemon still uses instead
    removed = run_llmp("keys", "rm", "up")
    assert removed.code == 0 and "now uses it" not in removed.out


def test_auth_advice_for_a_key_written_in_the_config(upstream, make_gateway) -> None:
    upstream.always(requires_key(NEW))
    gateway = make_gateway(f"""
defaults:
  health_check: {{enabled: false}}
providers:
  up:
    type: openai
    base_url: {upstream.url}/v1
    api_key: {OLD}
    models: [gpt-4o-mini]
""")
    for _ in range(2):  # the upstream's refusal, then llmp's own while the key is unchanged
        with pytest.raises(openai.AuthenticationError) as refused:
            gateway.openai().chat.completions.create(
                model="up/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    message = str(refused.value)
    assert "config" in message and "llmp reload" in message
    assert "llmp keys set" not in message and OLD not in message


def test_the_daemon_reports_a_keyring_that_refuses(isolated_env, start_daemon, monkeypatch) -> None:
    """The daemon reads the keyring through a child process: a keyring that is there but
    refuses (a denied macOS Keychain prompt) still reads as refused, never as a missing key."""
    import httpx

    from tests.support.keyring_backend import DENIED_BACKEND

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", DENIED_BACKEND)
    state = start_daemon("providers:\n  up: {type: openai, base_url: 'http://127.0.0.1:9/v1'}\n")
    answer = httpx.post(state.base_url + "/admin/keys/reload", json={"name": "up"},
                        headers={"Authorization": f"Bearer {state.token}"}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["keys"]["up"]["source"] == "keyring refused"
    log = (isolated_env / "logs" / "llmp.log").read_text()
    assert "refused to hand over the key for 'up'" in log and "User interaction is not allowed" in log


def test_the_daemon_reads_every_key_it_needs_from_the_keyring(test_keyring, start_daemon,
                                                              make_upstream) -> None:
    """Keys of several providers, read at start by one child process, each reach its upstream."""
    first, second = make_upstream(), make_upstream()
    first.always(requires_key(OLD))
    second.always(requires_key(NEW))
    test_keyring.set_password("llmp", "one", OLD)
    test_keyring.set_password("llmp", "two", NEW)
    state = start_daemon(f"""
providers:
  one: {{type: openai, base_url: "{first.url}/v1", models: [m1]}}
  two: {{type: openai, base_url: "{second.url}/v1", models: [m2]}}
""")
    client = openai.OpenAI(base_url=state.base_url + "/v1", api_key="unused", max_retries=0)
    for model in ("one/m1", "two/m2"):
        answer = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content == "authorised"
    assert first.requests[-1].headers["Authorization"] == f"Bearer {OLD}"
    assert second.requests[-1].headers["Authorization"] == f"Bearer {NEW}"


def test_client_keys_in_the_keyring_admit_their_clients(test_keyring, start_daemon) -> None:
    """Client keys stored with `llmp keys set client:NAME`, read by the daemon at start."""
    import httpx

    test_keyring.set_password("llmp", "client:alice", "sk-alice-client-key-0001")
    test_keyring.set_password("llmp", "client:bob", "sk-bob-client-key-0002")
    state = start_daemon("""
server:
  auth:
    keys:
      alice: {}
      bob: {}
providers:
  mock: {type: mock, models: [mock-1]}
""")

    def status_with(key: str) -> int:
        return httpx.get(state.base_url + "/v1/models", headers={"Authorization": f"Bearer {key}"},
                         timeout=30).status_code

    assert status_with("sk-alice-client-key-0001") == 200
    assert status_with("sk-bob-client-key-0002") == 200
    assert status_with("sk-someone-else-key-0003") == 401
