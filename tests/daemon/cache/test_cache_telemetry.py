"""What a cache hit leaves in the ledger, `llmp usage`, `llmp cache` and /metrics."""

from __future__ import annotations

import json
import sqlite3

import httpx
from typer.testing import CliRunner

from llmp.cli.app import app
from llmp.core.paths import resolve_paths
from llmp.daemon.telemetry.hub import TELEMETRY
from tests.daemon.cache.support import OPENAI_MODEL, openai_upstream, settled
from tests.support.fake_upstream import reply
from tests.support.golden import Golden

ANSWER = Golden("azure").json("chat_response.json")  # 19 tokens in, 7 out
CHAT = {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "Say hello"}]}
PRICED = openai_upstream("{url}", extra="""
prices:
  up/gpt-4o-mini: {input: 2.0, output: 4.0}
""")
COST = (19 * 2.0 + 7 * 4.0) / 1_000_000


def served_twice_and_once_refused_the_cache(make_gateway, upstream):
    upstream.always(reply(ANSWER))
    gateway = make_gateway(PRICED.replace("{url}", upstream.url))
    client = gateway.openai()
    client.chat.completions.create(**CHAT)  # miss
    settled(gateway)
    client.chat.completions.create(**CHAT)  # hit
    client.chat.completions.create(**CHAT, extra_headers={"Cache-Control": "no-store"})  # bypass
    settled(gateway)
    assert gateway.server.app[TELEMETRY].flush()
    return gateway


def test_a_hit_is_its_own_ledger_row_costing_nothing(make_gateway, upstream) -> None:
    served_twice_and_once_refused_the_cache(make_gateway, upstream)
    db = sqlite3.connect(resolve_paths().usage_db)
    rows = db.execute("SELECT cache_result, cache_hit, cost, cost_saved, tokens_in, tokens_out,"
                      " provider, model FROM requests ORDER BY id").fetchall()
    assert rows == [
        ("miss", 0, COST, None, 19, 7, "up", "gpt-4o-mini"),
        ("hit", 1, 0.0, COST, 19, 7, "up", "gpt-4o-mini"),
        ("bypass", 0, COST, None, 19, 7, "up", "gpt-4o-mini"),
    ]


def test_usage_and_cache_stats_show_hits_rate_and_savings(make_gateway, upstream) -> None:
    served_twice_and_once_refused_the_cache(make_gateway, upstream)
    runner = CliRunner()
    usage = runner.invoke(app, ["usage", "--json"])
    assert usage.exit_code == 0, usage.output
    total = json.loads(usage.output)["total"]
    assert (total["requests"], total["cache_hits"], total["cache_lookups"]) == (3, 1, 2)
    assert total["hit_rate"] == 0.5
    assert round(total["saved"], 10) == round(COST, 10)
    assert round(total["cost"], 10) == round(2 * COST, 10)
    table = runner.invoke(app, ["usage"], env={"COLUMNS": "200"})
    assert "cache hits" in table.output and "1 (50%)" in table.output
    stats = runner.invoke(app, ["cache", "stats", "--json"])
    assert stats.exit_code == 0, stats.output
    figures = json.loads(stats.output)
    assert (figures["entries"], figures["hits"], figures["lookups"]) == (1, 1, 2)
    assert figures["bytes"] > len(json.dumps(ANSWER)) // 2 and figures["saved"] == round(COST, 8)
    assert figures["models"] == [{"model": OPENAI_MODEL, "entries": 1, "bytes": figures["bytes"]}]
    human = runner.invoke(app, ["cache", "stats"])
    assert "1 of 2 lookups (50%)" in human.output


def test_metrics_count_cache_results_and_bytes(make_gateway, upstream) -> None:
    gateway = served_twice_and_once_refused_the_cache(make_gateway, upstream)
    text = httpx.get(gateway.url + "/metrics").text
    assert 'llmp_cache_requests_total{result="hit"} 1.0' in text
    assert 'llmp_cache_requests_total{result="miss"} 1.0' in text
    assert 'llmp_cache_requests_total{result="bypass"} 1.0' in text
    assert 'llmp_cache_requests_total{result="refresh"} 0.0' in text  # every result, seen or not
    size = next(line for line in text.splitlines() if line.startswith("llmp_cache_bytes "))
    assert float(size.split()[1]) > 1000


def test_cache_clear_without_a_daemon(make_gateway, upstream) -> None:
    gateway = served_twice_and_once_refused_the_cache(make_gateway, upstream)
    gateway.stop()
    runner = CliRunner()
    kept = runner.invoke(app, ["cache", "clear", "--model", "other/model"])
    assert kept.exit_code == 0 and "removed 0 cached answers" in kept.output
    recent = runner.invoke(app, ["cache", "clear", "--older-than", "7d"])
    assert "removed 0" in recent.output
    cleared = runner.invoke(app, ["cache", "clear"])
    assert "removed 1 cached answer" in cleared.output
    assert json.loads(runner.invoke(app, ["cache", "stats", "--json"]).output)["entries"] == 0
    bad = runner.invoke(app, ["cache", "clear", "--older-than", "soon"])
    assert bad.exit_code != 0
