"""Finding answers again after a restart: the key file beside the cache, whatever befell either."""

from __future__ import annotations

import sqlite3

import httpx
from typer.testing import CliRunner

from llmp.cli.app import app
from llmp.core import cache_keys
from llmp.core.cache_keys import RECORD, keys_path
from llmp.core.paths import resolve_paths
from tests.daemon.cache.support import OPENAI_MODEL, entries, openai_upstream, settled
from tests.support.fake_upstream import reply
from tests.support.gateway import Gateway
from tests.support.golden import Golden

ANSWER = Golden("azure").json("chat_response.json")
CHAT = {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "Say hello"}]}


def ask(gateway: Gateway, **options) -> httpx.Response:
    response = httpx.post(gateway.base_url + "/chat/completions", json=CHAT, **options)
    assert response.status_code == 200, response.text
    settled(gateway)
    return response


def stored_once(upstream) -> None:
    """One answer stored by a daemon that then stops."""
    first = Gateway(openai_upstream(upstream.url))
    try:
        assert ask(first).headers["x-llmp-cache"] == "miss"
    finally:
        first.stop()


def test_a_lost_key_file_is_written_again_from_the_cache(make_gateway, upstream) -> None:
    upstream.always(reply(ANSWER))
    stored_once(upstream)
    keys_path(resolve_paths().cache_db).unlink()
    gateway = make_gateway(openai_upstream(upstream.url))
    assert ask(gateway).headers["x-llmp-cache"] == "hit"
    assert upstream.count("/chat/completions") == 1
    assert keys_path(resolve_paths().cache_db).stat().st_size > 0


def test_answers_cleared_without_a_daemon_stay_gone(make_gateway, upstream) -> None:
    upstream.always(reply(ANSWER))
    stored_once(upstream)
    cleared = CliRunner().invoke(app, ["cache", "clear"])
    assert "removed 1 cached answer" in cleared.output
    gateway = make_gateway(openai_upstream(upstream.url))
    assert ask(gateway).headers["x-llmp-cache"] == "miss"
    assert ask(gateway).headers["x-llmp-cache"] == "hit"
    assert upstream.count("/chat/completions") == 2


def test_a_row_lost_behind_the_key_files_back_is_a_miss(make_gateway, upstream) -> None:
    """The key file may name a row a crash took away: asked for, it is a miss, then stored anew."""
    upstream.always(reply(ANSWER))
    stored_once(upstream)
    db = sqlite3.connect(resolve_paths().cache_db)
    db.execute("DELETE FROM entries")
    db.commit()
    db.close()
    gateway = make_gateway(openai_upstream(upstream.url))
    assert ask(gateway).headers["x-llmp-cache"] == "miss"
    assert ask(gateway).headers["x-llmp-cache"] == "hit"
    assert entries(gateway) == 1


def test_a_refreshed_answer_replaces_the_old_one_across_a_restart(make_gateway, upstream) -> None:
    upstream.always(reply(ANSWER))
    stored_once(upstream)
    newer = {**ANSWER, "id": "chatcmpl-newer"}
    upstream.always(reply(newer))
    first = Gateway(openai_upstream(upstream.url))
    try:
        assert ask(first, headers={"Cache-Control": "no-cache"}).headers["x-llmp-cache"] == "refresh"
        assert entries(first) == 1
    finally:
        first.stop()
    gateway = make_gateway(openai_upstream(upstream.url))
    hit = ask(gateway)
    assert hit.headers["x-llmp-cache"] == "hit" and hit.json()["id"] == "chatcmpl-newer"
    assert entries(gateway) == 1


def test_a_key_file_of_mostly_deleted_rows_is_written_afresh(make_gateway, upstream, monkeypatch) -> None:
    upstream.always(reply(ANSWER))
    stored_once(upstream)
    assert "removed 1 cached answer" in CliRunner().invoke(app, ["cache", "clear"]).output
    keys = keys_path(resolve_paths().cache_db)
    assert keys.stat().st_size == 2 * RECORD.size  # the row stored, then deleted
    monkeypatch.setattr(cache_keys, "COMPACT_SLACK", 0)
    gateway = make_gateway(openai_upstream(upstream.url))
    assert keys.stat().st_size == 0
    assert ask(gateway).headers["x-llmp-cache"] == "miss"
    assert ask(gateway).headers["x-llmp-cache"] == "hit"
    assert keys.stat().st_size == RECORD.size
