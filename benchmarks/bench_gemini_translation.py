"""CPU cost of the Gemini adapter's translations, per request and per streamed event.

Run from the repository root: `python benchmarks/bench_gemini_translation.py`.
It times the pure translation work (no network) on the golden fixtures, so a
change to the translators shows up here before it shows up as latency.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src")]

from llmp.daemon.providers.gemini_request import build_request  # noqa: E402
from llmp.daemon.providers.gemini_response import StreamTranslator, chat_response  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "gemini"


def per_call(label: str, work: Any, rounds: int = 20_000) -> None:
    for _ in range(rounds // 10):
        work()
    start = time.perf_counter()
    for _ in range(rounds):
        work()
    elapsed = (time.perf_counter() - start) / rounds
    print(f"{label:<48} {elapsed * 1e6:8.1f} µs")


def main() -> None:
    golden = json.loads((FIXTURES / "request_multiturn_tools.json").read_text())
    simple = {"messages": [{"role": "user", "content": "Why is the sky blue?"}], "max_tokens": 100}
    text = json.loads((FIXTURES / "text_response.json").read_text())
    calls = json.loads((FIXTURES / "function_call_response.json").read_text())
    events = [
        json.loads(block[6:])
        for block in (FIXTURES / "stream_text.sse").read_bytes().split(b"\r\n\r\n")
        if block.startswith(b"data: ")
    ]

    def ignore(call_id: str, signature: str) -> None:
        return None

    def stream() -> None:
        translator = StreamTranslator("m", ignore)
        for event in events:
            translator.feed(event)

    per_call("request: one user message", lambda: build_request(simple, "m", lambda i: None))
    per_call("request: multi-turn, tools, images, schema",
             lambda: build_request(golden["openai"], "m", lambda i: None))
    per_call("response: text", lambda: chat_response(text, "m", ignore))
    per_call("response: two function calls", lambda: chat_response(calls, "m", ignore))
    per_call(f"stream: {len(events)} events", stream)


if __name__ == "__main__":
    main()
