"""The response cache's cost and speed, against the bare aiohttp proxy of bench_proxy.py.

Three figures, each the median of a few short rounds (a shared VM drifts):

* hit: a non-streamed chat completion answered from the cache, one request at
  a time, against the bare proxy relaying the same request to the upstream;
  the budget is <= 0.5 ms added at the median;
* miss: CPU per request of the whole llmp process (every thread) with the
  cache on and every request a new question (looked up, relayed, checked and
  stored), against llmp with the cache off serving the same requests; the
  budget is <= 5% more;
* size: 100,000 entries written into a store whose `max_bytes` they overflow,
  then random lookups read from the file (no memory front): p99 < 1 ms, and
  the file stays under `max_bytes`.

On a shared machine CPU times drift from round to round, so the miss rounds
alternate which daemon goes first. `--instructions N` measures the miss
instead by counting it: each daemon runs under valgrind's callgrind, which
counts the instructions of every thread of the process over N misses (after a
warm-up, until the cache's and the ledger's writers are done), whatever else
the machine is doing. Slow (a few minutes); it does only that.

    python benchmarks/bench_cache.py [--requests 300] [--rounds 3] [--entries 100000]
    python benchmarks/bench_cache.py --instructions 300 [--keep-profiles DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson
import psutil
from aiohttp import web

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[1] / "src"))

import bench_proxy  # noqa: E402  (the upstream, the bare proxy and the CPU counter)
from callgrind import count_instructions, require_callgrind  # noqa: E402

_COUNTER = itertools.count()


def llmp_app(upstream: str, cache: bool) -> web.Application:
    from llmp.core.config_loader import LoadedConfig, parse_config
    from llmp.core.paths import resolve_paths
    from llmp.daemon.app import build_app
    from llmp.daemon.runtime import Runtime
    from llmp.daemon.telemetry.logs import setup_logging

    config = parse_config(f"""
cache: {{enabled: {str(cache).lower()}}}
providers:
  up: {{type: openai, base_url: "{upstream}/v1", api_key: none, models: [gpt-4o-mini],
        health_check: {{enabled: false}}}}
""")
    paths = resolve_paths()
    paths.ensure()
    setup_logging(paths.log_file, config.logging, console=False)
    return build_app(Runtime(LoadedConfig(config, Path("bench.yaml")), "bench-token"))


def serve(mode: str, upstream: str) -> None:
    async def main() -> None:
        if mode == "upstream":
            runner = web.AppRunner(await bench_proxy.upstream_app(), access_log=None)
        elif mode == "bare":
            runner = web.AppRunner(await bench_proxy.bare_proxy_app(upstream), access_log=None)
        else:
            from llmp.daemon.runtime import RUNTIME
            from llmp.daemon.serve import make_runner

            app = llmp_app(upstream, cache=mode == "on")
            runner = make_runner(app, app[RUNTIME].config.server.limits)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def start(mode: str, upstream: str, home: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "LLMP_HOME": str(home / mode)}
    process = subprocess.Popen([sys.executable, str(HERE), "--serve", mode, "--upstream", upstream],
                               stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    return process, f"http://127.0.0.1:{process.stdout.readline().strip()}"


def body(unique: bool) -> bytes:
    text = f"question {next(_COUNTER)}" if unique else "the same question"
    return orjson.dumps({"model": "up/gpt-4o-mini", "messages": [{"role": "user", "content": text}]})


async def one(session: aiohttp.ClientSession, url: str, unique: bool) -> float:
    began = time.perf_counter()
    async with session.post(url + "/v1/chat/completions", data=body(unique),
                            headers={"Content-Type": "application/json"}) as response:
        await response.read()
        assert response.status == 200, response.status
    return time.perf_counter() - began


async def hit_latency(urls: dict[str, str], requests: int) -> dict[str, float]:
    """Median seconds per request, one at a time, the proxies taking turns."""
    async with aiohttp.ClientSession() as session:
        for url in urls.values():
            for _ in range(20):
                await one(session, url, unique=False)
        await asyncio.sleep(0.3)  # the first answer is stored: every request after it is a hit
        times: dict[str, list[float]] = {mode: [] for mode in urls}
        for _ in range(requests):
            for mode, url in urls.items():
                times[mode].append(await one(session, url, unique=False))
    return {mode: statistics.median(samples) for mode, samples in times.items()}


async def miss_cpu(url: str, pid: int, requests: int, concurrency: int = 8) -> float:
    """CPU seconds of the whole process per request, every request a new question."""
    process = psutil.Process(pid)
    await misses(url, 30)
    await asyncio.sleep(bench_proxy.TELEMETRY_LAG)
    before = bench_proxy._cpu(process)[0]
    await misses(url, requests, concurrency)
    await asyncio.sleep(bench_proxy.TELEMETRY_LAG)  # the cache's and ledger's writers too
    after = bench_proxy._cpu(process)[0]
    return (after - before) / requests


async def misses(url: str, requests: int, concurrency: int = 8) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        remaining = iter(range(requests))

        async def worker() -> None:
            for _ in remaining:
                await one(session, url, unique=True)

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def miss_instructions(mode: str, upstream: str, home: Path, requests: int) -> float:
    """Instructions per miss of the whole llmp process (every thread), counted by callgrind."""
    counted = count_instructions(
        [sys.executable, str(HERE), "--serve", mode, "--upstream", upstream],
        {"LLMP_HOME": str(home / f"cg-{mode}")}, home / f"callgrind.{mode}",
        warm_up=lambda url: asyncio.run(misses(url, 100)),
        measured=lambda url: asyncio.run(misses(url, requests)),
        settle=4 * bench_proxy.TELEMETRY_LAG)  # the writers run slower under valgrind
    return counted / requests


def instructions_bench(requests: int, home: Path, keep: Path | None = None) -> None:
    require_callgrind()
    upstream, upstream_url = start("upstream", "", home)
    try:
        counted = {mode: miss_instructions(mode, upstream_url, home, requests) for mode in ("off", "on")}
    finally:
        upstream.terminate()
    if keep is not None:  # for callgrind_annotate: where the instructions went
        keep.mkdir(parents=True, exist_ok=True)
        for mode in ("off", "on"):
            shutil.copy(home / f"callgrind.{mode}.1", keep / f"callgrind.{mode}")
    print(f"miss instructions per request: cache off {counted['off']:,.0f}, on {counted['on']:,.0f}: "
          f"{counted['on'] / counted['off']:.3f}x (budget <= 1.05x)")


def size_bench(entries: int, home: Path) -> dict[str, float]:
    from llmp.daemon.cache.store import Entry, Store

    max_bytes = 64 * 1024 * 1024
    path = home / "size" / "cache.sqlite3"
    store = Store(path, max_bytes=max_bytes, memory_entries=0)
    answer = orjson.dumps({"choices": [{"message": {"content": "x" * 900}, "finish_reason": "stop"}]})
    keys = [os.urandom(20) for _ in range(entries)]
    began = time.perf_counter()
    now = time.time()
    for index, key in enumerate(keys):
        store.put(Entry(key, "openai", "chat", "up/m", "up", "m", "json", "application/json",
                        None, answer, now + index * 1e-6, now + 86_400), lambda: None)
        if index % 5000 == 4999:
            store.flush(60)
    store.flush(60)
    written = time.perf_counter() - began
    held = store.stats()["entries"]
    kept = keys[-min(held, len(keys)):]  # the least recently used went first
    samples = []
    for key in random.sample(kept, min(10_000, len(kept))):
        t = time.perf_counter()
        assert store.get(key, now) is not None
        samples.append(time.perf_counter() - t)
    store.flush(60)
    store.close()
    samples.sort()
    return {"written_s": written, "held": held, "file": path.stat().st_size, "max_bytes": max_bytes,
            "p50_ms": samples[len(samples) // 2] * 1e3, "p99_ms": samples[int(len(samples) * 0.99)] * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve")
    parser.add_argument("--upstream", default="")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--instructions", type=int, default=0, metavar="N")
    parser.add_argument("--keep-profiles", type=Path, metavar="DIR",
                        help="with --instructions: keep callgrind's output there")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.upstream)
        return
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        if args.instructions:
            instructions_bench(args.instructions, home, args.keep_profiles)
            return
        processes = []
        try:
            upstream, upstream_url = start("upstream", "", home)
            processes.append(upstream)
            urls, pids = {}, {}
            for mode in ("bare", "off", "on"):
                process, urls[mode] = start(mode, upstream_url, home)
                processes.append(process)
                pids[mode] = process.pid
            added, ratios = [], []
            for index in range(args.rounds):
                medians = asyncio.run(hit_latency({m: urls[m] for m in ("bare", "on")}, args.requests))
                added.append((medians["on"] - medians["bare"]) * 1e3)
                cpu = {mode: asyncio.run(miss_cpu(urls[mode], pids[mode], args.requests))
                       for mode in (("off", "on") if index % 2 == 0 else ("on", "off"))}
                off, on = cpu["off"], cpu["on"]
                ratios.append(on / off)
                print(f"round: hit p50 {medians['on'] * 1e3:.3f} ms vs bare {medians['bare'] * 1e3:.3f} ms;"
                      f" miss CPU {on * 1e6:.0f} us vs off {off * 1e6:.0f} us per request", flush=True)
        finally:
            for process in processes:
                process.terminate()
        print(f"hit, added over the bare proxy at p50: {statistics.median(added):+.3f} ms "
              f"(rounds {', '.join(f'{a:+.3f}' for a in added)}; budget <= 0.5 ms)")
        print(f"miss CPU, cache on / off: {statistics.median(ratios):.3f}x "
              f"(rounds {', '.join(f'{r:.3f}' for r in ratios)}; budget <= 1.05x)")
        size = size_bench(args.entries, home)
        print(f"{args.entries:,} entries written in {size['written_s']:.1f} s; {size['held']:,} kept; "
              f"file {size['file']:,} bytes of max_bytes {size['max_bytes']:,}; "
              f"lookups p50 {size['p50_ms']:.3f} ms, p99 {size['p99_ms']:.3f} ms (budget < 1 ms)")


if __name__ == "__main__":
    main()
