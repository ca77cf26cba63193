"""Where cached answers live and for how long: client isolation, TTL, size, restarts."""

from __future__ import annotations

import os
import sqlite3
import stat
import time

import httpx
import openai
import pytest

from llmp.core.paths import resolve_paths
from tests.daemon.cache.support import OPENAI_MODEL, entries, openai_upstream, settled
from tests.support.clock import ManualClock
from tests.support.fake_upstream import FakeUpstream, reply
from tests.support.gateway import Gateway
from tests.support.golden import Golden

ANSWER = Golden("azure").json("chat_response.json")
CHAT = {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "Say hello"}]}
TEAM_KEY = "llmp-team-key-0123456789abcdef"
OTHER_KEY = "llmp-other-key-0123456789abcdef"


def cache_header(gateway, body=CHAT, **options) -> str:
    response = httpx.post(gateway.base_url + "/chat/completions", json=body, **options)
    assert response.status_code == 200, response.text
    settled(gateway)
    return response.headers["x-llmp-cache"]


def test_one_client_never_receives_anothers_answer(make_gateway, upstream, monkeypatch) -> None:
    monkeypatch.setenv("TEAM_KEY", TEAM_KEY)
    monkeypatch.setenv("OTHER_KEY", OTHER_KEY)
    upstream.always(reply(ANSWER))
    gateway = make_gateway(openai_upstream(upstream.url) + """
server:
  auth:
    keys:
      team: {key: "env:TEAM_KEY"}
      other: {key: "env:OTHER_KEY"}
""")
    team, other = gateway.openai(api_key=TEAM_KEY), gateway.openai(api_key=OTHER_KEY)
    assert team.chat.completions.with_raw_response.create(**CHAT).headers["x-llmp-cache"] == "miss"
    settled(gateway)
    assert other.chat.completions.with_raw_response.create(**CHAT).headers["x-llmp-cache"] == "miss"
    settled(gateway)
    assert team.chat.completions.with_raw_response.create(**CHAT).headers["x-llmp-cache"] == "hit"
    assert other.chat.completions.with_raw_response.create(**CHAT).headers["x-llmp-cache"] == "hit"
    with pytest.raises(openai.AuthenticationError):  # no key: refused before the cache is asked
        gateway.openai(api_key="wrong").chat.completions.create(**CHAT)
    assert upstream.count("/chat/completions") == 2


def test_entries_expire_after_the_ttl(make_gateway, upstream) -> None:
    clock = ManualClock(start=time.time())
    upstream.always(reply(ANSWER))
    gateway = make_gateway(openai_upstream(upstream.url, "cache: {enabled: true, ttl: 3600}"),
                           wall_clock=clock.now)
    assert cache_header(gateway) == "miss"
    clock.advance(3599)
    response = httpx.post(gateway.base_url + "/chat/completions", json=CHAT)
    assert response.headers["x-llmp-cache"] == "hit" and response.headers["age"] == "3599"
    clock.advance(2)
    assert cache_header(gateway) == "miss"
    assert upstream.count("/chat/completions") == 2


def test_a_request_sets_its_own_ttl(make_gateway, upstream) -> None:
    clock = ManualClock(start=time.time())
    upstream.always(reply(ANSWER))
    gateway = make_gateway(openai_upstream(upstream.url), wall_clock=clock.now)
    assert cache_header(gateway, headers={"x-llmp-cache-ttl": "60"}) == "miss"
    clock.advance(30)
    assert cache_header(gateway) == "hit"
    # An answer older than the asker accepts is fetched anew.
    assert cache_header(gateway, headers={"x-llmp-cache-ttl": "10"}) == "miss"
    clock.advance(9)
    assert cache_header(gateway) == "hit"
    clock.advance(2)  # the refetched answer was kept for its asker's 10 seconds
    assert cache_header(gateway) == "miss"
    clock.advance(3600)
    assert cache_header(gateway) == "hit"  # and this one for the default day
    bad = httpx.post(gateway.base_url + "/chat/completions", json=CHAT,
                     headers={"x-llmp-cache-ttl": "soon"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "x-llmp-cache-ttl"


def test_off_by_default_and_per_provider_alias_or_request(make_gateway, upstream) -> None:
    upstream.always(reply(ANSWER))
    gateway = make_gateway(openai_upstream(upstream.url, cache="", extra=f"""
  other:
    type: openai
    base_url: {upstream.url}/v1
    api_key: sk-test-upstream-key-123456
    models: [gpt-4o-mini]
    health_check: {{enabled: false}}
    cache: true
models:
  fast: {{targets: [other/gpt-4o-mini], cache: false}}
"""))
    response = httpx.post(gateway.base_url + "/chat/completions", json=CHAT)
    assert "x-llmp-cache" not in response.headers  # the cache is off for `up`
    assert cache_header(gateway, {**CHAT, "model": "other/gpt-4o-mini"}) == "miss"
    assert cache_header(gateway, {**CHAT, "model": "other/gpt-4o-mini"}) == "hit"
    fast = httpx.post(gateway.base_url + "/chat/completions", json={**CHAT, "model": "fast"})
    assert "x-llmp-cache" not in fast.headers  # the alias excludes itself
    assert cache_header(gateway, headers={"x-llmp-cache": "on"}) == "miss"
    assert cache_header(gateway, headers={"x-llmp-cache": "on"}) == "hit"


def test_off_costs_nothing_and_creates_no_file(make_gateway, upstream) -> None:
    upstream.always(reply(ANSWER))
    gateway = make_gateway(openai_upstream(upstream.url, cache=""))
    httpx.post(gateway.base_url + "/chat/completions", json=CHAT)
    assert gateway.runtime.cache is None
    assert not resolve_paths().cache_db.exists()


def test_size_is_bounded_least_recently_used_first(make_gateway, upstream) -> None:
    clock = ManualClock(start=time.time())
    filler = "x" * 10_000
    big = {**ANSWER, "choices": [{**ANSWER["choices"][0],
                                 "message": {"role": "assistant", "content": filler}}]}
    upstream.always(reply(big))
    max_bytes = 256 * 1024
    gateway = make_gateway(openai_upstream(upstream.url, f"cache: {{enabled: true, max_bytes: {max_bytes}}}"),
                           wall_clock=clock.now)

    def ask(n: int) -> str:
        clock.advance(1)
        return cache_header(gateway, {**CHAT, "messages": [{"role": "user", "content": f"q{n}"}]})

    assert ask(0) == "miss"
    for n in range(1, 60):
        assert ask(n) == "miss"
        assert ask(0) == "hit"  # used again and again: never the least recently used
    cache = gateway.runtime.cache
    assert cache is not None
    held = entries(gateway)
    assert 10 <= held < 30
    assert cache.store.bytes <= max_bytes
    assert resolve_paths().cache_db.stat().st_size <= max_bytes
    assert ask(59) == "hit" and ask(1) == "miss"  # the newest kept, the oldest gone


def test_answers_survive_a_restart_in_a_private_file(make_gateway, upstream) -> None:
    upstream.always(reply(ANSWER))
    first = Gateway(openai_upstream(upstream.url))
    try:
        assert cache_header(first) == "miss"
    finally:
        first.stop()
    path = resolve_paths().cache_db
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    second = make_gateway(openai_upstream(upstream.url))
    assert cache_header(second) == "hit"
    assert upstream.count("/chat/completions") == 1
    assert b"sk-test-upstream-key" not in path.read_bytes()


def test_admin_clear_forgets_answers_in_memory_too(make_gateway, upstream: FakeUpstream) -> None:
    upstream.always(reply(ANSWER))
    gateway = make_gateway(openai_upstream(upstream.url))
    assert cache_header(gateway) == "miss"
    assert cache_header(gateway) == "hit"  # now in the memory front as well
    refused = httpx.post(gateway.url + "/admin/cache/clear", json={})
    assert refused.status_code == 401
    cleared = httpx.post(gateway.url + "/admin/cache/clear", json={"model": OPENAI_MODEL},
                         headers=gateway.admin_headers())
    assert cleared.json()["removed"] == 1
    assert cache_header(gateway) == "miss"
    bad = httpx.post(gateway.url + "/admin/cache/clear", json={"before": "yesterday"},
                     headers=gateway.admin_headers())
    assert bad.status_code == 400


FIRST_LAYOUT = """
CREATE TABLE entries (
    id INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE, inbound TEXT NOT NULL, operation TEXT NOT NULL,
    model TEXT NOT NULL, provider TEXT, served_model TEXT, mode TEXT NOT NULL,
    content_type TEXT NOT NULL, usage BLOB, body BLOB NOT NULL, size INTEGER NOT NULL,
    created REAL NOT NULL, expires REAL NOT NULL, used REAL NOT NULL);
INSERT INTO entries VALUES (1, x'00', 'openai', 'chat', 'up/gpt-4o-mini', 'up', 'gpt-4o-mini',
    'json', 'application/json', NULL, x'7b7d', 162, 0, 9e12, 0);
PRAGMA user_version=1;
"""


def test_a_file_in_an_older_layout_is_emptied_and_used(make_gateway, upstream) -> None:
    """The cache is disposable: a file written by an older release is started afresh, not read."""
    path = resolve_paths().cache_db
    path.parent.mkdir(parents=True, exist_ok=True)
    old = sqlite3.connect(path)
    old.executescript(FIRST_LAYOUT)
    old.close()
    upstream.always(reply(ANSWER))
    gateway = make_gateway(openai_upstream(upstream.url))
    assert entries(gateway) == 0
    assert cache_header(gateway) == "miss"
    assert cache_header(gateway) == "hit"
    assert entries(gateway) == 1
