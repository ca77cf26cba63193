"""CPU cost of the Anthropic adapter's work per request and per stream event, in-process.

What it measures (CPU time of this process, best of several rounds):
  * request translation OpenAI -> Anthropic, and answer translation back;
  * per stream event: the pass-through relay (regrouping at event boundaries
    and watching for errors/usage) against simply handing the bytes on, and the
    Anthropic events -> OpenAI chunks translation;
  * per chunk: OpenAI chunks -> Anthropic events (Anthropic clients, other providers).
The network is left out on purpose: bench_proxy.py measures llmp end to end.

Usage: python benchmarks/bench_anthropic.py [--events 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from llmp.core.config_loader import parse_config  # noqa: E402
from llmp.daemon.api.anthropic_events import EventWriter  # noqa: E402
from llmp.daemon.providers.anthropic import AnthropicProvider, _whole_events  # noqa: E402
from llmp.daemon.providers.anthropic_request import to_anthropic  # noqa: E402
from llmp.daemon.providers.anthropic_response import chat_from_message  # noqa: E402
from llmp.daemon.providers.anthropic_stream import canonical_chunks  # noqa: E402
from llmp.daemon.providers.base import Forwarded  # noqa: E402
from llmp.daemon.providers.sse import SSEDecoder  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "anthropic"


def transcript(deltas: int) -> list[bytes]:
    """The golden text stream with `deltas` text events, one network read per event."""
    raw = (FIXTURES / "stream_text.sse").read_bytes()
    events = [e + b"\n\n" for e in raw.split(b"\n\n") if e.strip()]
    text = [e for e in events if b"text_delta" in e]
    rest = [e for e in events if b"text_delta" not in e]
    at = next(i for i, e in enumerate(rest) if e.startswith(b"event: content_block_stop"))
    return rest[:at] + (text * deltas)[:deltas] + rest[at:]


def best(rounds: int, work: Callable[[], Any]) -> float:
    """Lowest CPU seconds over the rounds: the least disturbed by the rest of the machine."""
    times = []
    for _ in range(rounds):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return min(times)


async def _source(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def run(coroutine_factory: Callable[[], Any]) -> Callable[[], Any]:
    return lambda: asyncio.run(coroutine_factory())


async def bare(chunks: list[bytes]) -> None:
    async for _ in _source(chunks):
        pass


async def relay(provider: AnthropicProvider, chunks: list[bytes]) -> None:
    forwarded = Forwarded(200, "text/event-stream")
    usage: dict[str, Any] = {}
    async for complete in _whole_events(_source(chunks)):
        provider._scan(complete, usage, forwarded)


async def translate_stream(chunks: list[bytes]) -> list[dict[str, Any]]:
    async def events() -> AsyncIterator[Any]:
        decoder = SSEDecoder()
        for chunk in chunks:
            for event in decoder.feed(chunk):
                yield event

    return [c async for c in canonical_chunks(events(), "bench", True)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000, help="text deltas per stream")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    provider = AnthropicProvider("bench", parse_config(
        "providers:\n  bench:\n    type: anthropic\n    base_url: http://127.0.0.1:9\n"
        "    api_key: none\n").providers["bench"])
    request = json.loads((FIXTURES / "openai_request_multiturn.json").read_text())
    message = json.loads((FIXTURES / "response_tool_use.json").read_text())
    chunks = transcript(args.events)
    n = len(chunks)
    openai_chunks = asyncio.run(translate_stream(chunks))

    def requests() -> None:
        for _ in range(args.requests):
            to_anthropic(request, "claude", stream=False)

    def answers() -> None:
        for _ in range(args.requests):
            chat_from_message(message)

    def events_out() -> None:
        writer = EventWriter()
        for chunk in openai_chunks:
            writer.feed(chunk)
        writer.finish()

    rows = [
        ("OpenAI request -> Anthropic (per request)", best(args.rounds, requests) / args.requests),
        ("Anthropic answer -> OpenAI (per request)", best(args.rounds, answers) / args.requests),
        ("bytes handed on, no inspection (per event)",
         best(args.rounds, run(lambda: bare(chunks))) / n),
        ("pass-through relay (per event)",
         best(args.rounds, run(lambda: relay(provider, chunks))) / n),
        ("Anthropic events -> OpenAI chunks (per event)",
         best(args.rounds, run(lambda: translate_stream(chunks))) / n),
        ("OpenAI chunks -> Anthropic events (per chunk)",
         best(args.rounds, events_out) / len(openai_chunks)),
    ]
    print(f"{'':50} {'CPU us':>8}")
    for name, seconds in rows:
        print(f"{name:50} {seconds * 1e6:8.2f}")


if __name__ == "__main__":
    main()
