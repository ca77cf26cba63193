"""What one access line costs, on the telemetry thread and on the log writer thread.

    python benchmarks/bench_access_log.py [lines] [rounds]

Sets up the daemon's logging (`setup_logging`) to a temporary file, with a few
keys registered for redaction as the daemon has, and prints CPU microseconds
per access line:

* settler: `AccessLog.requests_finished` for batches of `BATCH` lines (as the
  telemetry thread makes them), with the writer stopped, so only the calling
  thread's work is timed;
* writer: the writer's handling of those queued lines, timed on this thread;
* all threads: process CPU time for a run with the writer thread live, as the
  daemon runs it (the settler's share, the writer's, and their contention).

Each figure is the best of a few rounds: other work on the machine only adds.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from llmp.core.config_schema import LoggingConfig
from llmp.core.redact import register_secret
from llmp.daemon.context import RequestContext
from llmp.daemon.telemetry.access_log import AccessLog
from llmp.daemon.telemetry.logs import setup_logging
from llmp.daemon.telemetry.record import finished
from llmp.daemon.telemetry.usage import Tokens


def finished_request() -> RequestContext:
    """A typical successful chat request, as the access log sees it when the request ends."""
    ctx = RequestContext(request_id="req_0123456789abcdef0123456789abcdef", inbound="openai",
                         operation="chat", requested_model="smart", stream=False)
    ctx.alias, ctx.provider, ctx.model = "smart", "openai", "gpt-4o-mini"
    ctx.attempts, ctx.status = 1, 200
    ctx.first_byte_at, ctx.finished_at = ctx.started + 0.3004, ctx.started + 0.8123
    return ctx


BATCH = 50  # lines per hand-over: a 50 ms settling interval at 1,000 requests a second


def drain(listener: Any) -> int:
    """Handle every queued batch on this thread, as the writer thread would; returns how many lines."""
    handled = 0
    while not listener.queue.empty():
        item = listener.queue.get_nowait()
        listener.handle(item)
        handled += len(item.lines)
    return handled


def measure(access: AccessLog, log_file: Path, lines: int) -> tuple[float, float, float]:
    """One round: settler, writer and all-thread CPU seconds for `lines` access lines."""
    batch = [finished(finished_request(), Tokens(120, 33, 0), 0.000123)] * BATCH
    lines -= lines % BATCH
    config = LoggingConfig(level="info", max_bytes=1 << 30)
    listener = setup_logging(log_file, config, console=False)
    listener.stop()  # lines now wait in the queue: the loop side is timed alone
    start = time.thread_time()
    for _ in range(lines // BATCH):
        access.requests_finished(batch)
    settler = time.thread_time() - start
    start = time.thread_time()
    drained = drain(listener)
    writer = time.thread_time() - start
    assert drained == lines, f"{drained} lines queued for {lines} requests"

    listener = setup_logging(log_file, config, console=False)
    start = time.process_time()
    for _ in range(lines // BATCH):
        access.requests_finished(batch)
    listener.stop()  # waits for the writer to write every line
    return settler, writer, time.process_time() - start


def main(lines: int = 20_000, rounds: int = 5) -> None:
    for i in range(8):
        register_secret(f"sk-bench-provider-key-{i:020d}")
    with tempfile.TemporaryDirectory(prefix="llmp-bench-") as home:
        log_file = Path(home) / "llmp.log"
        results = [measure(AccessLog(), log_file, lines) for _ in range(rounds)]
        logging.getLogger().handlers.clear()
        written = log_file.read_bytes().count(b"\n")
        assert written == 2 * (lines - lines % BATCH) * rounds, f"{written} lines in the file"
    best = [min(figures) / lines * 1e6 for figures in zip(*results, strict=True)]
    print(f"access line, CPU µs per line (best of {rounds} rounds of {lines} lines):")
    for name, micros in zip(("settler (requests_finished)", "writer (line to file)",
                             "all threads, writer running"), best, strict=True):
        print(f"  {name:<30} {micros:6.2f}")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
