"""The dashboard over plain HTTP: who gets in, what it may do, what it sends, and what it costs.

The browser tests show the pages work; these pin down the rules at the wire,
where a browser's politeness cannot hide a hole.
"""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from llmp.daemon.telemetry.hub import TELEMETRY
from llmp.daemon.ui.assets import files
from llmp.daemon.ui.feed import FEED
from tests.daemon.routing_support import wait_until
from tests.support.gateway import Gateway

MOCK = "providers:\n  mock:\n    type: mock\n    models: [mock-1]\n"
LITERAL_KEY = "sk-literal-abcdefghijklmnop1234"
MAX_UI_BYTES = 300 * 1024


@pytest.fixture
def gateway(make_gateway) -> Gateway:
    return make_gateway(MOCK + f"""\
  keyed:
    type: openai
    base_url: http://127.0.0.1:9/v1
    api_key: {LITERAL_KEY}
    headers: {{X-Team-Secret: team-secret-value-123}}
    models: [gpt-x]
""")


def signed_in(gateway: Gateway) -> tuple[httpx.Client, str]:
    code = httpx.post(gateway.url + "/admin/ui/code", headers=gateway.admin_headers()).json()["code"]
    client = httpx.Client(base_url=gateway.url)
    answer = client.post("/ui/api/session", json={"code": code})
    assert answer.status_code == 200
    return client, answer.json()["csrf"]


def test_a_code_needs_the_admin_token_and_works_once(gateway: Gateway) -> None:
    assert httpx.post(gateway.url + "/admin/ui/code").status_code == 401
    code = httpx.post(gateway.url + "/admin/ui/code", headers=gateway.admin_headers()).json()["code"]
    first = httpx.post(gateway.url + "/ui/api/session", json={"code": code})
    assert first.status_code == 200
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/ui" in cookie
    assert gateway.runtime.token not in first.text + cookie  # the admin token never reaches a browser
    again = httpx.post(gateway.url + "/ui/api/session", json={"code": code})
    assert again.status_code == 401 and "set-cookie" not in again.headers
    assert httpx.post(gateway.url + "/ui/api/session", content=b"not json").status_code == 401


@pytest.mark.parametrize("path", ["/ui/api/session", "/ui/api/config", "/ui/api/requests",
                                  "/ui/api/usage", "/ui/api/history", "/ui/api/events"])
def test_every_data_call_needs_the_session(gateway: Gateway, path: str) -> None:
    answer = httpx.get(gateway.url + path)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "ui_session"
    forged = httpx.get(gateway.url + path, cookies={"llmp_ui": "made-up"})
    assert forged.status_code == 401


def test_changes_need_the_csrf_token_and_the_page_own_origin(gateway: Gateway) -> None:
    client, csrf = signed_in(gateway)
    path = "/ui/api/providers/mock/disable"
    assert client.post(path).status_code == 403
    assert client.post(path, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    for origin in ("http://evil.example", "null", gateway.url + ".evil.example"):
        assert client.post(path, headers={"X-CSRF-Token": csrf, "Origin": origin}).status_code == 403
    assert gateway.runtime.router.disabled == set()
    done = client.post(path, headers={"X-CSRF-Token": csrf, "Origin": gateway.url})
    assert done.status_code == 200 and gateway.runtime.router.disabled == {"mock"}
    assert client.post("/ui/api/providers/nope/enable", headers={"X-CSRF-Token": csrf}).status_code == 404


def test_signing_out_ends_the_session(gateway: Gateway) -> None:
    client, csrf = signed_in(gateway)
    cookie = client.cookies["llmp_ui"]
    assert client.post("/ui/api/session/end").status_code == 403  # a change: it needs the CSRF token
    assert client.post("/ui/api/session/end", headers={"X-CSRF-Token": csrf}).status_code == 200
    # A copy of the cookie kept after signing out is worth nothing.
    assert httpx.get(gateway.url + "/ui/api/config", cookies={"llmp_ui": cookie}).status_code == 401


def test_another_host_is_refused_even_with_a_session(gateway: Gateway) -> None:
    client, _ = signed_in(gateway)
    assert client.get("/ui/api/config", headers={"Host": "evil.example"}).status_code == 403
    assert client.get("/ui/", headers={"Host": "rebound.example:8484"}).status_code == 403


def test_pages_carry_a_strict_policy_and_everything_ships_inside(gateway: Gateway) -> None:
    page = httpx.get(gateway.url + "/ui/")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "unsafe" not in policy and "http" not in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text and " on" not in page.text.replace(" one", "")  # no inline code
    total = 0
    for name, (body, _) in files().items():
        served = httpx.get(f"{gateway.url}/ui/assets/{name}")
        assert served.status_code == 200 and served.content == body
        assert b"https://cdn" not in body and b"//fonts." not in body
        total += len(body)
    assert total <= MAX_UI_BYTES, f"the dashboard weighs {total} bytes"
    assert httpx.get(gateway.url + "/ui/assets/../../guard.py").status_code == 404
    assert httpx.get(gateway.url + "/ui/assets/nothing.js").status_code == 404


def test_config_shows_keys_masked(gateway: Gateway) -> None:
    client, _ = signed_in(gateway)
    shown = client.get("/ui/api/config")
    assert shown.status_code == 200
    assert LITERAL_KEY not in shown.text and "team-secret-value-123" not in shown.text
    keyed = shown.json()["config"]["providers"]["keyed"]
    assert keyed["api_key"] == "sk-…1234"
    assert shown.json()["config"]["providers"]["mock"]["api_key"] == "keyring"


def test_usage_by_group_and_as_csv(gateway: Gateway) -> None:
    client, _ = signed_in(gateway)
    for _ in range(3):
        gateway.openai().chat.completions.create(model="mock-1", messages=[{"role": "user", "content": "hi"}])
    gateway.wait_idle()
    gateway.server.app[TELEMETRY].flush()
    report = client.get("/ui/api/usage", params={"by": "model", "since": "24h"}).json()
    assert [(row["name"], row["requests"]) for row in report["rows"]] == [("mock/mock-1", 3)]
    download = client.get("/ui/api/usage", params={"by": "provider", "since": "7d", "format": "csv"})
    assert download.headers["content-disposition"] == 'attachment; filename="llmp-usage-by-provider.csv"'
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows[0][:2] == ["provider", "requests"] and rows[1][:2] == ["mock", "3"] and rows[2][0] == "total"
    assert client.get("/ui/api/usage", params={"by": "color"}).status_code == 400
    assert client.get("/ui/api/usage", params={"since": "forever"}).status_code == 400


def test_nothing_ticks_while_no_dashboard_is_open(gateway: Gateway) -> None:
    feed = gateway.server.app[FEED]
    for _ in range(5):
        gateway.openai().chat.completions.create(model="mock-1", messages=[{"role": "user", "content": "hi"}])
    assert feed.ticks == 0 and feed.subscribers == 0
    client, _ = signed_in(gateway)
    with client.stream("GET", "/ui/api/events") as events:
        assert events.headers["content-type"] == "text/event-stream"
        lines = (line for line in events.iter_lines() if line and not line.startswith("retry:"))
        assert next(lines) == "event: tick"
        first = next(lines)  # at once: what the page shows before the first tick
        assert first.startswith("data: ") and '"providers"' in first
        assert next(lines) == "event: tick"
        assert feed.subscribers == 1 and feed.ticks >= 1
    # The stream's handler finds the dashboard gone at its next write, within a tick.
    wait_until(lambda: feed.subscribers == 0)
    assert not feed.running  # the ticking stopped with the last dashboard


def test_the_last_requests_and_one_request_in_detail(gateway: Gateway) -> None:
    client, _ = signed_in(gateway)
    openai = gateway.openai()
    openai.chat.completions.create(model="mock-1", messages=[{"role": "user", "content": "one"}])
    for _ in openai.chat.completions.create(model="mock-1", stream=True,
                                            messages=[{"role": "user", "content": "two"}]):
        pass
    gateway.wait_idle()
    listed = client.get("/ui/api/requests").json()["requests"]
    assert [(r["model"], r["streamed"], r["status"]) for r in listed] == [
        ("mock-1", True, 200), ("mock-1", False, 200)]  # newest first
    assert listed[0]["ttft_ms"] is not None and listed[0]["tokens_out"]
    found = client.get(f"/ui/api/requests/{listed[0]['request_id']}").json()
    assert found["attempt_list"] == [
        {"n": 1, "provider": "mock", "model": "mock-1", "outcome": "answered", "reason": None}]
    assert "bodies" not in found  # usage.log_bodies is off: nothing stored, nothing shown
    missing = client.get("/ui/api/requests/req_nope")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
