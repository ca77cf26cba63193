"""What an idle llmp costs: the daemon's memory, `llmp start` and `llmp status` times.

    python benchmarks/bench_idle.py [--runs 7]

Two set-ups, each started `--runs` times in a fresh LLMP_HOME on a free port:
  - built-in defaults: no config file at all;
  - five providers: a config with OpenAI, Anthropic, Gemini, Cohere and Azure,
    their (fake) keys in the environment.
For each: `llmp start` until it returns (the daemon answers), `llmp status`
(five times per start, daemon running), the CPU the daemon spent getting ready
(its own and its reaped children's, such as the keyring reader: on a busy machine
a steadier figure than the wall time), and the daemon's resident memory (RSS)
once it has settled, with no request served. Medians with [min .. max]; the
keyring is whatever this machine's keyring configuration gives. Goals: RSS
<= 50 MiB on the defaults and <= 55 MiB with five providers, start <= 0.3 s,
status <= 0.15 s. Exit status 1 when a median misses its goal.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
from bench_frozen import line, settled_rss, timed

MiB = 1024 * 1024
LLMP = [sys.executable, "-m", "llmp"]
FIVE_PROVIDERS = """\
providers:
  openai: {type: openai, preset: openai}
  anthropic: {type: anthropic, preset: anthropic}
  gemini: {type: gemini, preset: gemini}
  cohere: {type: cohere, preset: cohere}
  azure:
    type: azure
    base_url: https://example.openai.azure.com
    api_key: env:AZURE_OPENAI_API_KEY
    models: [gpt-4o]
"""
FAKE_KEYS = {name: "sk-bench-not-a-real-key-0000" for name in (
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "COHERE_API_KEY", "AZURE_OPENAI_API_KEY")}
GOALS = {"defaults": 50.0, "five providers": 55.0}


def environment(home: Path, keys: dict[str, str]) -> dict[str, str]:
    """This shell's environment without llmp's own settings or provider keys, plus `keys`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LLMP_") and not k.endswith("_API_KEY") and k != "GOOGLE_API_KEY"}
    return {**env, **keys, "LLMP_HOME": str(home)}


Timing = tuple[float, float]  # wall and CPU seconds (`bench_frozen.timed`)


def one_start(config: str | None, keys: dict[str, str]) -> tuple[Timing, list[Timing], int, float]:
    """(wall, CPU) of the start and of each status, settled RSS and the daemon's start-up CPU;
    the daemon is stopped afterwards."""
    root = Path(tempfile.mkdtemp(prefix="llmp-idle-"))
    home = root / "home"
    home.mkdir(mode=0o700)
    if config is not None:
        (home / "config.yaml").write_text(config, encoding="utf-8")
    env = environment(home, keys)
    try:
        started = timed([*LLMP, "start", "--port", "0"], env)
        try:
            pid = json.loads((home / "daemon.json").read_text(encoding="utf-8"))["pid"]
            times = psutil.Process(pid).cpu_times()  # before any request reaches it
            cpu = times.user + times.system + times.children_user + times.children_system
            statuses = [timed([*LLMP, "status"], env) for _ in range(5)]
            rss = settled_rss(pid)
        finally:  # a failed measurement must not leave a daemon running
            subprocess.run([*LLMP, "stop"], env=env, check=True, stdout=subprocess.DEVNULL)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return started, statuses, rss, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"
          " (a shared machine: read the medians with that in mind)")
    missed = False
    for label, config, keys in (("defaults", None, {}), ("five providers", FIVE_PROVIDERS, FAKE_KEYS)):
        runs = [one_start(config, keys) for _ in range(args.runs)]
        starts = [run[0][0] for run in runs]
        statuses = [wall for run in runs for wall, _ in run[1]]
        status_cpu = [cpu for run in runs for _, cpu in run[1]]
        rss = [run[2] / MiB for run in runs]
        cpu = [run[3] for run in runs]
        print(f"{label} ({args.runs} starts; median [min .. max])")
        line("start until ready", starts, "s", 0.3)
        line("daemon CPU until ready", cpu, "s")
        line("status", statuses, "s", 0.15)
        line("status CPU", status_cpu, "s")
        line("idle daemon RSS", rss, "MiB", GOALS[label])
        missed |= statistics.median(starts) > 0.3 or statistics.median(statuses) > 0.15
        missed |= statistics.median(rss) > GOALS[label]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
