"""CPU per request with and without a dashboard open and streaming its live events.

The dashboard must cost the request path nothing: its live feed ticks once a
second while a dashboard is connected, reading what telemetry already keeps.
This runs llmp as shipped (telemetry on, as `bench_proxy.py`'s `on` mode) in
front of the same fake upstream and measures the proxy process's CPU per
plain request in rounds that alternate between no dashboard and one signed-in
dashboard holding `/ui/api/events` open (the events are read in this process,
so only the daemon's own share is counted). What a tick costs is a fixed
amount per second, not per request; on a shared, noisy machine expect the two
medians to differ by the rounds' spread.

    python benchmarks/bench_ui.py [--requests 400] [--rounds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_proxy import load, start  # a sibling script, not a package

TOKEN = "bench-token"  # what bench_proxy's llmp is started with


async def _session(url: str) -> aiohttp.CookieJar:
    jar = aiohttp.CookieJar(unsafe=True)  # 127.0.0.1 is an IP address: keep its cookies anyway
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.post(url + "/admin/ui/code", headers={"Authorization": f"Bearer {TOKEN}"}) as got:
            code = (await got.json())["code"]
        async with http.post(url + "/ui/api/session", json={"code": code}) as signed:
            assert signed.status == 200, signed.status
        return jar


async def _watch(url: str, jar: aiohttp.CookieJar, ticks: list[int]) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar) as http, http.get(url + "/ui/api/events") as events:
        assert events.status == 200, events.status
        async for line in events.content:
            if line.startswith(b"event: tick"):
                ticks[0] += 1


async def measured(url: str, pid: int, requests: int, dashboard: bool) -> tuple[float, int]:
    """CPU seconds per request, and the live events a dashboard got meanwhile."""
    ticks = [0]
    watcher = None
    if dashboard:
        jar = await _session(url)
        watcher = asyncio.create_task(_watch(url, jar, ticks))
    try:
        cpu, _ = await load(url, pid, requests, "plain")
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    return cpu, ticks[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    results: dict[bool, list[float]] = {False: [], True: []}
    ticks = 0
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        upstream, upstream_url = start("upstream", "", home)
        proxy, url = start("on", upstream_url, home)
        try:
            for round_no in range(args.rounds):
                for dashboard in ((False, True) if round_no % 2 == 0 else (True, False)):
                    cpu, got = asyncio.run(measured(url, proxy.pid, args.requests, dashboard))
                    results[dashboard].append(cpu)
                    ticks += got
        finally:
            for process in (proxy, upstream):
                process.terminate()
                process.wait(10)
    closed, opened = (statistics.median(results[k]) * 1e6 for k in (False, True))
    ratios = sorted(o / c for o, c in zip(results[True], results[False], strict=True))
    print(f"CPU per request, median of {args.rounds} rounds of {args.requests} (whole daemon process):")
    print(f"  no dashboard      {closed:8.1f} us   (rounds {_span(results[False])})")
    print(f"  dashboard open    {opened:8.1f} us   (rounds {_span(results[True])}; {ticks} live events read)")
    print(f"  open / none       {opened / closed:8.3f}    "
          f"(per-round ratios {ratios[0]:.3f} .. {ratios[-1]:.3f})")


def _span(values: list[float]) -> str:
    return f"{min(values) * 1e6:.1f} .. {max(values) * 1e6:.1f} us"


if __name__ == "__main__":
    main()
