"""Fail-over under a flapping provider: client-visible errors, added latency, CPU per request.

Runs the real daemon (`llmp start`) with an alias of two OpenAI-compatible fake
upstreams. In the "flapping" case the first one fails 30% of the time, in
bursts (for 0.6 s of every 2 s it answers 500, 503, 429 with Retry-After, or
cuts the connection); in the "healthy" case it never fails. Each case sends the
same requests (a fifth of them streamed) from concurrent clients and reports:

* client-visible errors (must be zero: the second upstream is always healthy),
* client latency p50/p99 and what the flapping adds to it,
* the daemon's CPU time per request (psutil on the daemon process),
* how many requests the flapping upstream received while failing.

The cases alternate for `--rounds` rounds and the medians are reported.

`--isolation` runs the two cases of one failing model instead:

* "one model failing": one provider serves a healthy model and a model it
  answers with HTTP 500; 1,000 requests go to the healthy model while other
  clients keep asking for the failing one. The healthy model must see 0
  failures and a p99 within 2 ms of a run without the failing traffic.
* "alias all down": every target of an alias answers 500; once their circuits
  are open, each request must be answered within `routing.max_wait` + 0.5 s.

    python benchmarks/bench_failover.py [--requests 10000] [--concurrency 8] [--rounds 3]
    python benchmarks/bench_failover.py --isolation [--requests 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil
from aiohttp import web

PERIOD = 2.0
BAD_SHARE = 0.3
MODEL = "bench-model"
COMPLETION = json.dumps({
    "id": "chatcmpl-b", "object": "chat.completion", "created": 1, "model": MODEL,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                 "finish_reason": "stop", "logprobs": None}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}).encode()
CHUNK = json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
                    "choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": None}]})
STREAM = f"data: {CHUNK}\n\ndata: {CHUNK}\n\ndata: [DONE]\n\n".encode()


@dataclass
class Upstream:
    flapping: bool
    started: float = field(default_factory=time.monotonic)
    received: int = 0
    received_while_failing: int = 0

    def failing(self) -> bool:
        return self.flapping and (time.monotonic() - self.started) % PERIOD < PERIOD * BAD_SHARE

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.received += 1
        if request.path.endswith("/models"):
            if self.failing():
                return web.json_response({"error": {"message": "down"}}, status=503)
            return web.json_response({"object": "list", "data": [{"id": MODEL}]})
        if self.failing():
            self.received_while_failing += 1
            fault = random.random()
            if fault < 0.3:
                return web.json_response({"error": {"message": "boom", "type": "server_error"}},
                                         status=500)
            if fault < 0.6:
                return web.json_response({"error": {"message": "overloaded"}}, status=503)
            if fault < 0.8:
                return web.json_response({"error": {"message": "slow down"}}, status=429,
                                         headers={"Retry-After": "1"})
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=500)
        if b'"stream": true' in body or b'"stream":true' in body:
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            await response.write(STREAM)
            await response.write_eof()
            return response
        return web.Response(body=COMPLETION, content_type="application/json")


async def serve(upstream: Upstream) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", upstream.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, runner.addresses[0][1]


def config(flap_port: int, steady_port: int) -> str:
    return f"""
logging: {{level: warning}}
defaults:
  retry: {{attempts: 1, backoff: 0.05, max_backoff: 0.5}}
  circuit_breaker: {{failure_threshold: 5, window: 10, recovery_time: 0.5, max_recovery_time: 2}}
  health_check: {{interval: 1, timeout: 2}}
providers:
  flap:
    type: openai
    base_url: http://127.0.0.1:{flap_port}/v1
    api_key: none
    models: [{MODEL}]
  steady:
    type: openai
    base_url: http://127.0.0.1:{steady_port}/v1
    api_key: none
    models: [{MODEL}]
models:
  flaky: [flap/{MODEL}, steady/{MODEL}]
"""


def llmp(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    source = str(Path(__file__).resolve().parents[1] / "src")
    env = dict(os.environ, LLMP_HOME=str(home),
               PYTHONPATH=os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "llmp", *args], env=env, capture_output=True,
                          text=True, timeout=60)


async def one(session: aiohttp.ClientSession, url: str, stream: bool) -> tuple[float, bool]:
    started = time.perf_counter()
    body = {"model": "flaky", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    try:
        async with session.post(url, json=body) as response:
            data = await response.read()
            ok = response.status == 200 and (b"[DONE]" in data if stream else b'"choices"' in data)
            if ok and stream:
                ok = b'"error"' not in data
    except aiohttp.ClientError:
        ok = False
    return time.perf_counter() - started, ok


async def run_case(flapping: bool, requests: int, concurrency: int) -> dict[str, float]:
    flap, steady = Upstream(flapping), Upstream(False)
    runners = [await serve(flap), await serve(steady)]
    home = Path(tempfile.mkdtemp(prefix="llmp-bench-"))
    (home / "config.yaml").write_text(config(runners[0][1], runners[1][1]))
    started = await asyncio.to_thread(llmp, home, "start", "--port", "0")
    if started.returncode != 0:
        raise SystemExit(started.stderr + started.stdout)
    state = json.loads((home / "daemon.json").read_text())
    daemon = psutil.Process(state["pid"])
    url = f"http://127.0.0.1:{state['port']}/v1/chat/completions"
    latencies: list[float] = []
    errors = 0
    queue = iter(range(requests))
    try:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency)
        ) as session:
            for _ in range(200):  # warm-up: connection pools, imports, first-use costs
                await one(session, url, False)
            flap.received_while_failing = 0
            cpu_before = sum(daemon.cpu_times()[:2])

            async def worker() -> None:
                nonlocal errors
                for index in queue:
                    latency, ok = await one(session, url, index % 5 == 0)
                    latencies.append(latency)
                    errors += not ok

            wall = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            wall = time.perf_counter() - wall
            cpu = sum(daemon.cpu_times()[:2]) - cpu_before
    finally:
        await asyncio.to_thread(llmp, home, "stop")
        for runner, _ in runners:
            await runner.cleanup()
    latencies.sort()
    return {
        "requests": requests,
        "errors": errors,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "cpu_us_per_request": cpu / requests * 1e6,
        "throughput_rps": requests / wall,
        "sent_to_failing_upstream": flap.received_while_failing,
    }


class ModelUpstream:
    """One upstream serving MODEL, and answering HTTP 500 for `broken`."""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.path.endswith("/models"):
            return web.json_response({"object": "list", "data": [{"id": MODEL}]})
        if b'"broken"' in body:
            return web.json_response({"error": {"message": "boom", "type": "server_error"}},
                                     status=500)
        return web.Response(body=COMPLETION, content_type="application/json")


ISOLATION_CONFIG = """
logging: {{level: warning}}
routing: {{max_wait: {max_wait}}}
defaults:
  retry: {{attempts: 2, backoff: 0.05, max_backoff: 0.5}}
  circuit_breaker: {{failure_threshold: 3, window: 10, recovery_time: 30, max_recovery_time: 60}}
providers:
  up: {{type: openai, base_url: "http://127.0.0.1:{port}/v1", api_key: none, models: [{model}, broken]}}
  down: {{type: openai, base_url: "http://127.0.0.1:{port}/v1", api_key: none, models: [broken]}}
models:
  all-down: [up/broken, down/broken]
"""


async def ask(session: aiohttp.ClientSession, url: str, model: str) -> tuple[float, int]:
    started = time.perf_counter()
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    async with session.post(url, json=body) as response:
        await response.read()
        return time.perf_counter() - started, response.status


async def isolation_case(requests: int, concurrency: int, failing: bool,
                         max_wait: float = 5.0) -> dict[str, float]:
    upstream = ModelUpstream()
    runner, port = await serve(upstream)  # type: ignore[arg-type]
    home = Path(tempfile.mkdtemp(prefix="llmp-bench-"))
    (home / "config.yaml").write_text(ISOLATION_CONFIG.format(max_wait=max_wait, port=port, model=MODEL))
    started = await asyncio.to_thread(llmp, home, "start", "--port", "0")
    if started.returncode != 0:
        raise SystemExit(started.stderr + started.stdout)
    state = json.loads((home / "daemon.json").read_text())
    url = f"http://127.0.0.1:{state['port']}/v1/chat/completions"
    latencies: list[float] = []
    errors = 0
    done = asyncio.Event()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            for _ in range(100):
                await ask(session, url, f"up/{MODEL}")

            async def hammer() -> None:  # other clients asking for the failing model all along
                while not done.is_set():
                    await ask(session, url, "up/broken")
                    await asyncio.sleep(0.01)  # steady, ~100 req/s: failing, not a CPU load test

            hammers = [asyncio.ensure_future(hammer()) for _ in range(1 if failing else 0)]
            queue = iter(range(requests))

            async def worker() -> None:
                nonlocal errors
                for _ in queue:
                    latency, status = await ask(session, url, f"up/{MODEL}")
                    latencies.append(latency)
                    errors += status != 200

            await asyncio.gather(*(worker() for _ in range(concurrency)))
            done.set()
            await asyncio.gather(*hammers)
            # every target of `all-down` failing: each answer must come within max_wait + 0.5 s
            for _ in range(3):
                await ask(session, url, "all-down")
            down = [await ask(session, url, "all-down") for _ in range(20)]
    finally:
        await asyncio.to_thread(llmp, home, "stop")
        await runner.cleanup()
    latencies.sort()
    return {
        "errors": errors,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "all_down_slowest_s": max(t for t, _ in down),
        "all_down_statuses": sorted({code for _, code in down})[0],
    }


async def isolation(requests: int, concurrency: int, rounds: int) -> None:
    runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for _ in range(rounds):  # alternating, so a noisy neighbour weighs on both cases alike
        for failing in (False, True):
            runs[failing].append(await isolation_case(requests, concurrency, failing=failing))
    alone, beside = _median(runs[False]), _median(runs[True])
    beside["all_down_slowest_s"] = max(r["all_down_slowest_s"] for r in runs[True])
    print(f"{requests} requests to a healthy model, {concurrency} concurrent clients, "
          f"medians of {rounds} rounds")
    print(f"{'case':<22}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}")
    for name, result in (("healthy model alone", alone), ("beside a failing one", beside)):
        print(f"{name:<22}{result['errors']:>8}{result['p50_ms']:>9.2f}{result['p99_ms']:>9.2f}")
    print(f"p99 added by the failing model: {beside['p99_ms'] - alone['p99_ms']:+.2f} ms (budget 2 ms)")
    print(f"alias with every target down: slowest answer {beside['all_down_slowest_s']:.3f} s "
          f"(HTTP {beside['all_down_statuses']:.0f}; budget max_wait 5 + 0.5 s)")
    if beside["errors"] or alone["errors"]:
        raise SystemExit("the healthy model saw failures")
    if beside["all_down_slowest_s"] > 5.5:
        raise SystemExit("a request waited longer than max_wait + 0.5 s")


def _median(results: list[dict[str, float]]) -> dict[str, float]:
    """Per metric, the median over rounds; errors are summed, since any one is a failure."""
    merged = {key: statistics.median(r[key] for r in results) for key in results[0]}
    merged["errors"] = sum(r["errors"] for r in results)
    return merged


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate the cases this many times and report medians "
                             "(a shared machine is noisy)")
    parser.add_argument("--isolation", action="store_true",
                        help="the one-failing-model cases instead of the flapping provider")
    args = parser.parse_args()
    if args.isolation:
        await isolation(args.requests, args.concurrency, args.rounds)
        return
    runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for _ in range(args.rounds):
        for flapping_case in (False, True):
            runs[flapping_case].append(await run_case(flapping_case, args.requests, args.concurrency))
    healthy, flapping = _median(runs[False]), _median(runs[True])
    print(f"medians of {args.rounds} rounds, {args.concurrency} concurrent clients")
    print(f"{'case':<10}{'requests':>10}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'CPU µs/req':>12}{'req/s':>8}{'to failing':>12}")
    for name, result in (("healthy", healthy), ("flapping", flapping)):
        print(f"{name:<10}{result['requests']:>10.0f}{result['errors']:>8}{result['p50_ms']:>9.2f}"
              f"{result['p99_ms']:>9.2f}{result['cpu_us_per_request']:>12.0f}"
              f"{result['throughput_rps']:>8.0f}{result['sent_to_failing_upstream']:>12.0f}")
    print(f"added by flapping: p50 {flapping['p50_ms'] - healthy['p50_ms']:+.2f} ms, "
          f"p99 {flapping['p99_ms'] - healthy['p99_ms']:+.2f} ms, CPU "
          f"{flapping['cpu_us_per_request'] - healthy['cpu_us_per_request']:+.0f} µs/request")
    if flapping["errors"] or healthy["errors"]:
        raise SystemExit("client-visible errors: fail-over did not hide the flapping provider")


if __name__ == "__main__":
    asyncio.run(main())
