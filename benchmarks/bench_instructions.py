"""llmp's CPU budget against the bare aiohttp proxy, counted in instructions instead of seconds.

bench_proxy.py times the proxies, and on a shared machine its ratios move from
run to run by more than the changes one wants to see. This counts the
instructions of every thread of each proxy process (llmp as shipped: access log,
ledger, metrics, stream usage asked for and hidden) under valgrind's callgrind,
which gives the same figure run after run. The same three kinds of traffic
and budgets as bench_proxy.py: per plain request at most 1.30x the bare proxy,
per streamed event (burst and paced) at most 1.20x. Exits 1 when one is missed.

Instructions are not time (a cache miss costs more than an add), so this is a
guide for work on the hot path; the budget itself is judged in seconds by
bench_proxy.py. Slow: each proxy runs under valgrind, a few minutes in all.

    python benchmarks/bench_instructions.py [--requests 300] [--kinds plain,stream,paced]
                                            [--keep-profiles DIR]   # for callgrind_annotate
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[1] / "src"))

import bench_proxy  # noqa: E402  (the upstream, both proxies, the traffic and the budgets)
from callgrind import count_instructions, require_callgrind  # noqa: E402

MODES = ("bare", "on")


async def send(url: str, kind: str, requests: int, concurrency: int = 8) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        remaining = iter(range(requests))

        async def worker() -> None:
            for _ in remaining:
                await bench_proxy._one(session, url, kind)

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def per_unit(mode: str, kind: str, upstream: str, home: Path, requests: int) -> float:
    """Instructions per plain request, or per streamed event, of one proxy."""
    counted = count_instructions(
        [sys.executable, str(bench_proxy.HERE), "--serve", mode, "--upstream", upstream],
        {"LLMP_HOME": str(home / mode), "PYTHONPATH": str(bench_proxy.SRC)},
        home / f"callgrind.{mode}.{kind}",
        warm_up=lambda url: asyncio.run(send(url, kind, 50)),
        measured=lambda url: asyncio.run(send(url, kind, requests)),
        settle=4 * bench_proxy.TELEMETRY_LAG)  # llmp's writers run slower under valgrind
    return counted / (requests if kind == "plain" else requests * bench_proxy.EVENTS)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300, help="plain requests per proxy")
    parser.add_argument("--kinds", default=",".join(bench_proxy.KINDS))
    parser.add_argument("--keep-profiles", type=Path, metavar="DIR",
                        help="keep callgrind's output there (callgrind.MODE.KIND)")
    args = parser.parse_args()
    require_callgrind()
    kinds = [kind for kind in args.kinds.split(",") if kind]
    missed = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        upstream, upstream_url = bench_proxy.start("upstream", "", home)
        try:
            for kind in kinds:
                requests = bench_proxy._requests(kind, args.requests)
                counted = {mode: per_unit(mode, kind, upstream_url, home, requests) for mode in MODES}
                ratio, goal = counted["on"] / counted["bare"], bench_proxy.GOALS[kind]
                unit = "request" if kind == "plain" else "event"
                verdict = "ok" if ratio <= goal else "MISSED"
                print(f"{kind:>6}: instructions per {unit}: bare {counted['bare']:,.0f}, "
                      f"llmp {counted['on']:,.0f}: {ratio:.3f}x (goal <= {goal:.2f}x) {verdict}", flush=True)
                if ratio > goal:
                    missed.append(kind)
        finally:
            upstream.terminate()
        if args.keep_profiles is not None:
            args.keep_profiles.mkdir(parents=True, exist_ok=True)
            for dump in home.glob("callgrind.*.1"):
                shutil.copy(dump, args.keep_profiles / dump.name.removesuffix(".1"))
    print(f"{len(missed)} goal(s) missed: {', '.join(missed)}" if missed else "every goal met")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
