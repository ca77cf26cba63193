"""What the one-file build costs, next to the pip-installed llmp in this venv.

    ./build_unix.sh --no-smoke && python benchmarks/bench_frozen.py [--binary dist/llmp-...] [--runs 9]

Measures, each as the median of `--runs` runs (the machine may be shared and
noisy: medians, not means, and the spread is printed):
  - the binary's size;
  - `llmp --version` and `llmp --help`, wall time (one-file: unpacking included),
    and the CPU time (user + system) of the command and the processes it waited
    for, which a busy machine disturbs less than wall time;
  - `llmp start` until the daemon answers (the command returns only then), and
    again with a provider whose key the daemon reads from the OS keyring (through
    its keyring child: with a one-file build, this binary run again);
  - the idle daemon's resident memory (RSS) once it has settled, frozen and
    pip-installed; for the frozen one also its bootloader parent, which waits.
Goals (issue 15): size <= 25 MiB, --help <= 0.35 s, --version <= 0.3 s,
start <= 1.0 s, frozen daemon RSS <= pip-installed + 5 MiB.
Every run has its own LLMP_HOME and TMPDIR and the mock provider on port 0.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "server:\n  port: 0\nproviders:\n  mock:\n    type: mock\n    models: [mock-1]\n"
# A provider that needs a key and has none in the environment: the daemon asks the keyring.
KEYRING_PROVIDER = "  vault:\n    type: openai\n    base_url: https://vault.invalid/v1\n    models: [v-1]\n"
MiB = 1024 * 1024


class Home:
    """A private LLMP_HOME and TMPDIR with the mock provider configured (and, `keyring`, one
    whose key is looked up in whatever keyring this session has)."""

    def __init__(self, keyring: bool = False) -> None:
        self.keyring = keyring
        self.root = Path(tempfile.mkdtemp(prefix="llmp-bench-"))
        (self.root / "home").mkdir()
        (self.root / "tmp").mkdir()
        config = CONFIG + KEYRING_PROVIDER if keyring else CONFIG
        (self.root / "home" / "config.yaml").write_text(config, encoding="utf-8")

    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items()
                if k in ("PATH", "HOME", "LANG", "SYSTEMROOT", "DBUS_SESSION_BUS_ADDRESS")}
        env = {**keep, "LLMP_HOME": str(self.root / "home"), "TMPDIR": str(self.root / "tmp")}
        if not self.keyring:  # a backend known to store nothing: no keyring child at all
            env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
        return env


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds, and CPU seconds of the command with every process it waited for."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def settled_rss(pid: int) -> int:
    """RSS once it stops changing (the daemon has finished starting up)."""
    process = psutil.Process(pid)
    last, steady = -1, 0
    for _ in range(100):
        rss = process.memory_info().rss
        steady = steady + 1 if rss == last else 0
        if steady >= 5:
            break
        last = rss
        time.sleep(0.1)
    return last


def daemon_runs(command: list[str], runs: int, frozen: bool,
                keyring: bool = False) -> tuple[list[float], list[int], list[int], list[float]]:
    """`start` times, daemon RSS, bootloader-parent RSS (0 when there is none), and the CPU
    time of the daemon's children by then (the keyring reader's: a busy machine barely moves it)."""
    starts: list[float] = []
    rss: list[int] = []
    parents: list[int] = []
    children_cpu: list[float] = []
    for _ in range(runs):
        home = Home(keyring)
        env = home.env()
        starts.append(timed([*command, "start"], env)[0])
        try:  # a failed measurement must not leave a daemon running
            status = json.loads(subprocess.run([*command, "status", "--json"], env=env, check=True,
                                               capture_output=True, text=True).stdout)
            pid = status["pid"]
            cpu = psutil.Process(pid).cpu_times()
            children_cpu.append(cpu.children_user + cpu.children_system)
            rss.append(settled_rss(pid))
            parent = psutil.Process(pid).parent() if frozen else None  # the one-file bootloader
            parents.append(parent.memory_info().rss if parent is not None else 0)
        finally:
            subprocess.run([*command, "stop"], env=env, check=True, stdout=subprocess.DEVNULL)
    return starts, rss, parents, children_cpu


def line(label: str, values: list[float], unit: str, goal: float | None = None) -> None:
    median = statistics.median(values)
    spread = f"[{min(values):.3f} .. {max(values):.3f}]"
    verdict = "" if goal is None else ("  ok" if median <= goal else f"  OVER the goal of {goal:g}")
    print(f"  {label:<34} {median:8.3f} {unit:<4} {spread}{verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", type=Path, help="default: the newest dist/llmp-*")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    binary = args.binary or max((p for p in (ROOT / "dist").glob("llmp-*") if p.suffix != ".sha256"),
                                key=lambda p: p.stat().st_mtime, default=None)
    if binary is None or not binary.exists():
        print("no binary: run ./build_unix.sh first, or pass --binary", file=sys.stderr)
        return 2
    frozen = [str(binary.resolve())]
    installed = [sys.executable, "-m", "llmp"]
    print(f"{binary.name}: {binary.stat().st_size / MiB:.2f} MiB (goal <= 25)")
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"
          " (a shared machine: read the medians with that in mind)")
    home = Home()
    for name, command in (("frozen", frozen), ("pip-installed", installed)):
        print(f"{name} ({args.runs} runs each; median [min .. max])")
        for flag, goal in (("--version", 0.3), ("--help", 0.35)):
            runs = [timed([*command, flag], home.env()) for _ in range(args.runs)]
            line(flag, [wall for wall, _ in runs], "s", goal if name == "frozen" else None)
            line("  its CPU time (user + system)", [cpu for _, cpu in runs], "s")
        starts, rss, parents, _ = daemon_runs(command, max(3, args.runs // 3), name == "frozen")
        line("start until ready", starts, "s", 1.0 if name == "frozen" else None)
        with_key = daemon_runs(command, max(3, args.runs // 3), False, keyring=True)
        line("  reading a key from the keyring", with_key[0], "s")
        line("    its keyring reader's CPU time", with_key[3], "s")
        line("idle daemon RSS", [r / MiB for r in rss], "MiB")
        if any(parents):
            line("  + its bootloader parent", [p / MiB for p in parents], "MiB")
        if name == "frozen":
            frozen_rss = statistics.median(rss)
        else:
            extra = (frozen_rss - statistics.median(rss)) / MiB
            print(f"  frozen daemon RSS - pip-installed: {extra:+.2f} MiB "
                  f"({'ok' if extra <= 5 else 'OVER'} the goal of +5 MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
