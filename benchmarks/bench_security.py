"""What the security layer costs on the hot path.

    python benchmarks/bench_security.py

Prints microseconds per operation for redaction (per log record), JSON parsing
with the nesting check, and the added latency of client-key authentication on
a full request through the daemon's app (mock provider, loopback HTTP).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
os.environ.setdefault("LLMP_HOME", tempfile.mkdtemp(prefix="llmp-bench-"))
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")

from llmp.core.redact import RedactingFilter, register_secret  # noqa: E402
from llmp.daemon.api.validation import parse_json_object  # noqa: E402
from tests.support.gateway import Gateway  # noqa: E402

MOCK = "providers:\n  mock:\n    type: mock\n    models: [mock-1]\n"
KEY = "llmp-bench-client-key-0123456789"


def per_call(fn, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1e6


def bench_redaction() -> None:
    for i in range(8):
        register_secret(f"sk-bench-provider-key-{i:020d}")
    redacting = RedactingFilter()
    extras = {"request_id": "req_0123456789abcdef", "provider": "openai", "model": "gpt-4o-mini",
              "status": 200, "latency_ms": 812.5, "tokens_in": 120, "tokens_out": 33, "alias": None}

    def record() -> None:
        entry = logging.LogRecord("llmp.access", logging.INFO, __file__, 1,
                                  "%s %s -> %s/%s %s", ("chat", "smart", "openai", "gpt-4o-mini", 200),
                                  None)
        entry.__dict__.update(extras)
        redacting.filter(entry)

    baseline = per_call(lambda: logging.LogRecord("x", 20, __file__, 1, "m", (), None), 20000)
    print(f"redacting one access-log record: {per_call(record, 20000) - baseline:.1f} µs")


def bench_parsing() -> None:
    messages = [{"role": "user" if i % 2 else "assistant", "content": "word " * 40} for i in range(100)]
    flat = orjson.dumps({"model": "m", "messages": messages})
    nested = orjson.dumps({"model": "m", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]} for _ in range(100)]})
    for name, raw in (("100 string messages", flat), ("100 content-part messages", nested)):
        plain = per_call(lambda raw=raw: orjson.loads(raw), 2000)
        checked = per_call(lambda raw=raw: parse_json_object(raw), 2000)
        print(f"parse {name} ({len(raw)} B): orjson {plain:.1f} µs, with checks {checked:.1f} µs")


def bench_requests(count: int = 400) -> None:
    os.environ["BENCH_KEY"] = KEY
    body = {"model": "mock-1", "messages": [{"role": "user", "content": "hello there"}]}
    results = {}
    for name, config, headers in (
        ("no auth", MOCK, {}),
        ("client key", "server: {auth: {keys: {bench: {key: env:BENCH_KEY, rpm: 1000000}}}}\n" + MOCK,
         {"Authorization": f"Bearer {KEY}"}),
    ):
        gateway = Gateway(config)
        try:
            with httpx.Client(base_url=gateway.base_url, headers=headers) as client:
                for _ in range(50):
                    client.post("/chat/completions", json=body)
                start = time.perf_counter()
                for _ in range(count):
                    assert client.post("/chat/completions", json=body).status_code == 200
                results[name] = (time.perf_counter() - start) / count * 1e6
        finally:
            gateway.stop()
    for name, micros in results.items():
        print(f"request through the app ({name}): {micros:.0f} µs")
    print(f"client-key authentication adds: {results['client key'] - results['no auth']:.0f} µs")


if __name__ == "__main__":
    bench_redaction()
    bench_parsing()
    bench_requests()
