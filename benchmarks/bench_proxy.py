"""llmp against a bare aiohttp pass-through proxy, on the same fake upstream, in one run.

For each of non-streaming and streaming requests it reports, for the direct
upstream, the bare proxy and llmp:
  * median and p99 latency seen by the client (full response read),
  * the proxy process's CPU time per request and per streamed chunk
    (user + system, read from the process itself, so load elsewhere on the
    machine does not count),
and the ratios the foundation issue sets goals for: llmp CPU <= 1.3x the bare
proxy's, llmp adding < 0.5 ms at the median.

Usage: python benchmarks/bench_proxy.py [--requests 2000] [--streams 400] [--chunks 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REQUEST = {"model": "bench/bench-model", "messages": [{"role": "user", "content": "hi " * 20}]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.post(url + "/v1/chat/completions", json=REQUEST, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


@dataclass
class Run:
    latencies: list[float]
    cpu: float  # seconds of the measured process


async def drive(url: str, count: int, stream: bool, concurrency: int, pid: int | None) -> Run:
    body = {**REQUEST, "stream": stream}
    if url.endswith("/llmp"):
        url = url[: -len("/llmp")]
    else:
        body["model"] = "bench-model"
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        for _ in range(20):  # warm-up: connections, caches
            await _one(client, body, stream)
        process = psutil.Process(pid) if pid else None
        before = sum(process.cpu_times()[:2]) if process else 0.0
        remaining = count

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                await _one(client, body, stream)
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        after = sum(process.cpu_times()[:2]) if process else 0.0
    return Run(latencies, after - before)


async def _one(client: httpx.AsyncClient, body: dict, stream: bool) -> None:
    if not stream:
        response = await client.post("/v1/chat/completions", json=body)
        response.raise_for_status()
        return
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        data = b"".join([part async for part in response.aiter_raw()])
    if b"[DONE]" not in data:
        raise RuntimeError("stream did not finish")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--streams", type=int, default=400)
    parser.add_argument("--chunks", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--extra-config", default="",
                        help="YAML appended to llmp's config, e.g. 'logging: {level: warning}'")
    args = parser.parse_args()

    python = sys.executable
    up_port, proxy_port, llmp_port = free_port(), free_port(), free_port()
    upstream_url = f"http://127.0.0.1:{up_port}"
    home = Path(tempfile.mkdtemp(prefix="llmp-bench-"))
    (home / "config.yaml").write_text(  # llmp as shipped: access log, metrics, ledger all on
        f"providers:\n  bench:\n    type: openai\n    base_url: {upstream_url}/v1\n"
        "    api_key: none\n    models: [bench-model]\n" + args.extra_config.replace("\\n", "\n")
    )
    env = dict(os.environ, LLMP_HOME=str(home), PYTHONPATH=str(ROOT / "src"))
    processes = [
        subprocess.Popen([python, str(HERE / "_servers.py"), "upstream", str(up_port),
                          str(args.chunks)]),
        subprocess.Popen([python, str(HERE / "_servers.py"), "proxy", str(proxy_port),
                          upstream_url]),
        subprocess.Popen([python, "-m", "llmp", "__daemon__", "--port", str(llmp_port)],
                         env=env),
    ]
    try:
        targets = {
            "direct": (upstream_url, processes[0].pid),
            "bare proxy": (f"http://127.0.0.1:{proxy_port}", processes[1].pid),
            "llmp": (f"http://127.0.0.1:{llmp_port}/llmp", processes[2].pid),
        }
        for url, _ in targets.values():
            wait_ready(url.removesuffix("/llmp"))
        report(targets, args)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)


def report(targets: dict[str, tuple[str, int]], args: argparse.Namespace) -> None:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, concurrency "
          f"{args.concurrency}; {args.requests} requests, {args.streams} streams x "
          f"{args.chunks + 2} events")
    results: dict[tuple[str, bool], Run] = {}
    for stream in (False, True):
        count = args.streams if stream else args.requests
        for name, (url, pid) in targets.items():
            results[(name, stream)] = asyncio.run(
                drive(url, count, stream, args.concurrency, pid if name != "direct" else None)
            )
    for stream in (False, True):
        label = "streaming" if stream else "non-streaming"
        count = args.streams if stream else args.requests
        print(f"\n{label}:")
        print(f"  {'':12} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>11} {'CPU us/chunk':>13}")
        for name in targets:
            run = results[(name, stream)]
            per_request = run.cpu / count * 1e6
            per_chunk = run.cpu / (count * (args.chunks + 2)) * 1e6 if stream else float("nan")
            cpu_text = f"{per_request:11.1f}" if name != "direct" else f"{'-':>11}"
            chunk_text = f"{per_chunk:13.2f}" if stream and name != "direct" else f"{'-':>13}"
            print(f"  {name:12} {statistics.median(run.latencies) * 1e3:8.3f} "
                  f"{percentile(run.latencies, 0.99) * 1e3:8.3f} {cpu_text} {chunk_text}")
        bare, llmp = results[("bare proxy", stream)], results[("llmp", stream)]
        direct = results[("direct", stream)]
        added_vs_bare = (statistics.median(llmp.latencies) - statistics.median(bare.latencies)) * 1e3
        added_vs_direct = (
            statistics.median(llmp.latencies) - statistics.median(direct.latencies)) * 1e3
        print(f"  llmp CPU / bare proxy CPU: {llmp.cpu / bare.cpu:.2f}x (goal <= 1.3x)")
        print(f"  llmp median added vs bare proxy: {added_vs_bare:+.3f} ms (goal < 0.5 ms); "
              f"vs direct: {added_vs_direct:+.3f} ms")


if __name__ == "__main__":
    main()
