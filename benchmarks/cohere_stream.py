"""CPU cost of translating a Cohere stream into OpenAI chunks, per upstream event.

Run: `python benchmarks/cohere_stream.py`. It replays the golden tool-call and
text transcripts through the same steps the daemon takes (SSE decode, JSON
parse, translation, OpenAI SSE encoding) and, as the baseline, the SSE decode
alone that a pass-through relay does.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from llmp.daemon.api.openai_wire import sse  # noqa: E402
from llmp.daemon.providers.cohere_stream import StreamTranslator  # noqa: E402
from llmp.daemon.providers.sse import SSEDecoder  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "cohere"
ROUNDS = 2000


def translate(raw: bytes) -> int:
    translator = StreamTranslator("command-a-03-2025", "co", include_usage=True)
    written = 0
    for event in SSEDecoder().feed(raw):
        if event.data == b"[DONE]":
            continue
        for chunk in translator.translate(orjson.loads(event.data)):
            written += len(sse(chunk))
    return written


def decode_only(raw: bytes) -> int:
    return len(SSEDecoder().feed(raw))


def measure(name: str) -> None:
    raw = (FIXTURES / name).read_bytes()
    events = decode_only(raw)
    results = {}
    for label, step in (("sse decode only", decode_only), ("full translation", translate)):
        started = time.process_time()
        for _ in range(ROUNDS):
            step(raw)
        results[label] = (time.process_time() - started) / ROUNDS / events * 1e6
    print(f"{name}: {events} events; " + "; ".join(f"{k} {v:.1f} us/event" for k, v in results.items()))


if __name__ == "__main__":
    for transcript in ("stream_text.sse", "stream_tool_call.sse"):
        measure(transcript)
