"""How long the terminal client takes: `llmp --help`, and a one-shot `llmp chat` against a
running daemon (the offline mock, so the figure is llmp's own cost, not a provider's).

    python benchmarks/bench_chat_cli.py [--runs N]

Runs in a temporary LLMP_HOME with its own daemon on a free port; loopback only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOURCE = str(Path(__file__).resolve().parents[1] / "src")


def run(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "llmp", *args], env=env, check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def report(name: str, seconds: list[float]) -> None:
    ordered = sorted(seconds)
    print(f"{name:<32} median {statistics.median(ordered) * 1000:7.1f} ms   "
          f"min {ordered[0] * 1000:7.1f} ms   max {ordered[-1] * 1000:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as home:
        (Path(home) / "config.yaml").write_text(
            "server:\n  port: 0\nproviders:\n  mock:\n    type: mock\n    models: [mock-1]\n")
        env = dict(os.environ, LLMP_HOME=home, PYTHONPATH=SOURCE, NO_COLOR="1")
        run(env, "start")
        try:
            report("llmp --help", [run(env, "--help") for _ in range(runs)])
            report("llmp chat --help", [run(env, "chat", "--help") for _ in range(runs)])
            report('llmp chat "hi" (mock, streamed)', [run(env, "chat", "hi") for _ in range(runs)])
            report('llmp chat --no-stream "hi"',
                   [run(env, "chat", "--no-stream", "hi") for _ in range(runs)])
            report("llmp test mock", [run(env, "test", "mock") for _ in range(runs)])
        finally:
            run(env, "stop")


if __name__ == "__main__":
    main()
