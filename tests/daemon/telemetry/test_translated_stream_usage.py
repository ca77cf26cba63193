"""Streams translated from another provider's format record that provider's own token counts,
whether or not the client asked for usage; a client that did not ask never sees the usage chunk."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from llmp.daemon.telemetry.hub import TELEMETRY
from tests.daemon.anthropic_fixtures import config as anthropic_config
from tests.daemon.anthropic_fixtures import events as anthropic_events
from tests.daemon.gemini_fixtures import events as gemini_events
from tests.daemon.gemini_fixtures import gemini_config
from tests.daemon.telemetry.upstream_data import USAGE, gateway_config, stream_events
from tests.daemon.test_cohere import cohere_config, sse_events
from tests.support.cli import run_llmp
from tests.support.fake_upstream import FakeUpstream, stream

#: provider: (its config, its real stream, the model, (input, output) tokens that stream bills)
PROVIDERS = {
    "anthropic": (anthropic_config, lambda: anthropic_events("stream_text.sse"),
                  "claude-sonnet-4-5-20250929", (25, 12)),
    "gemini": (gemini_config, lambda: gemini_events("stream_text.sse"), "gemini-2.0-flash", (9, 17)),
    "cohere": (cohere_config, lambda: sse_events("stream_text.sse"), "command-a-03-2025", (31, 7)),
}


def ledger(home: Path) -> list[tuple[int, int, int]]:
    db = sqlite3.connect(home / "usage.sqlite3")
    found = db.execute("SELECT tokens_in, tokens_out, estimated FROM requests ORDER BY id").fetchall()
    db.close()
    return found


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_stream_nobody_asked_usage_of_records_the_providers_counts(
        make_gateway, upstream: FakeUpstream, isolated_env: Path, name: str) -> None:
    config, events, model, (tokens_in, tokens_out) = PROVIDERS[name]
    upstream.always(stream(events()))
    gateway = make_gateway(config(upstream.url))
    client = gateway.openai()
    messages = [{"role": "user", "content": "hi"}]

    chunks = list(client.chat.completions.create(model=model, messages=messages, stream=True))
    assert chunks and all(chunk.choices for chunk in chunks)  # no usage-only chunk
    assert all(chunk.usage is None for chunk in chunks)
    asked = list(client.chat.completions.create(model=model, messages=messages, stream=True,
                                                stream_options={"include_usage": True}))
    assert (asked[-1].choices, asked[-1].usage.prompt_tokens) == ([], tokens_in)
    legacy = client.completions.create(model=model, prompt="hi", stream=True)
    assert all(chunk.choices and chunk.usage is None for chunk in legacy)

    gateway.wait_idle()
    assert gateway.server.app[TELEMETRY].flush()
    assert ledger(isolated_env) == [(tokens_in, tokens_out, 0)] * 3
    report = run_llmp("usage", "--json", "--since", "1h")
    assert report.code == 0, report.err
    total = json.loads(report.out)["total"]
    assert (total["tokens_in"], total["tokens_out"]) == (3 * tokens_in, 3 * tokens_out)


@pytest.mark.parametrize(("switch", "asked"), [("", {"include_usage": True}), ("stream_usage: false", None)])
def test_an_anthropic_client_streaming_from_an_openai_server_follows_its_stream_usage_switch(
        make_gateway, upstream: FakeUpstream, isolated_env: Path, switch: str, asked: dict | None) -> None:
    """A server that refuses `stream_options` is configured with `stream_usage: false`: then no
    translated stream sends it either (its usage is estimated)."""
    upstream.always(stream(stream_events(with_usage=asked is not None)))
    config = gateway_config(upstream.url).replace(
        "models: [gpt-4o-mini, text-embedding-3-small]",
        f"models: [gpt-4o-mini, text-embedding-3-small]\n    {switch}")
    gateway = make_gateway(config)
    with gateway.anthropic().messages.stream(model="fast", max_tokens=20,
                                             messages=[{"role": "user", "content": "hi"}]) as reply:
        assert reply.get_final_text()
    assert upstream.requests[0].json.get("stream_options") == asked
    gateway.wait_idle()
    assert gateway.server.app[TELEMETRY].flush()
    [(tokens_in, _, estimated)] = ledger(isolated_env)
    assert (tokens_in, estimated) == ((USAGE["prompt_tokens"], 0) if asked else (1, 1))
