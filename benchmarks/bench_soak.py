"""Soak: 100,000 mixed requests against a real daemon, with its memory sampled every 10,000.

Everything a client or an upstream can make grow is bounded, so after a
warm-up the daemon's resident memory must stay flat however long it serves.
The mix, by share of requests:

* plain chat completions (30%) and streamed ones (20%) from an OpenAI-like upstream;
* errors (10%): the upstream answers 500 or 429, or the mock fails;
* unknown model names (10%): random names of up to 500 characters no provider
  serves (a 404 naming the closest names);
* random model names (10%) at providers serving "*" (the upstream and the
  mock): each a deployment of its own, with its circuit, statistics, price
  lookup and metric labels;
* aborted clients (8%): a stream the client drops after its first event;
* oversized answers (6%): a plain answer larger than `max_response_bytes`;
* endless answers (6%): an event stream without a blank line (past
  `max_event_bytes`) or a JSON body that never ends (past `max_response_bytes`).

No retries, and circuits that never open (a window of 5 s), so every
request of the mix reaches its upstream. Three processes: the fake upstream
(this script, `--serve`), the daemon (started with `llmp start`, with its own
LLMP_HOME) and the load (this script). The daemon's RSS is read with psutil after every 10,000 requests,
once its telemetry and its heap have settled (a pause in traffic makes the
daemon collect its garbage and trim its heap, `daemon/heap.py`); the run fails
(exit 1) if RSS after the last sample exceeds RSS after the first by more than 10%.

    python benchmarks/bench_soak.py [--requests 100000] [--sample-every 10000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
import orjson
import psutil
from aiohttp import web
from bench_proxy import ANSWER, _chunk, _event

HERE = Path(__file__).resolve()
SRC = HERE.parents[1] / "src"
SAMPLE_EVERY = 10_000
MAX_GROWTH = 0.10
MAX_RESPONSE = 64 * 1024  # the daemon's server.limits.max_response_bytes in this run
MAX_EVENT = 16 * 1024  # and its max_event_bytes

# -- the upstream: what it answers is chosen by the model name it is asked for -------------

async def _stream(request: web.Request, chunks: int, pace: float = 0.0) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    with contextlib.suppress(ConnectionError, aiohttp.ClientError):  # a client that went away
        await response.write(_event(_chunk({"role": "assistant", "content": ""})))
        for _ in range(chunks):
            await response.write(_event(_chunk({"content": "tok "})))
            if pace:
                await asyncio.sleep(pace)
        await response.write(_event(_chunk({}, "stop")))
        await response.write(b"data: [DONE]\n\n")
    return response


async def _endless(request: web.Request, content_type: str, opening: bytes) -> web.StreamResponse:
    """Bytes until the daemon hangs up (its bound), never the end of an event or an object."""
    response = web.StreamResponse(headers={"Content-Type": content_type})
    await response.prepare(request)
    filler = b"x" * 4096
    with contextlib.suppress(ConnectionError, aiohttp.ClientError):
        await response.write(opening)
        while True:
            await response.write(filler)
    return response


async def chat(request: web.Request) -> web.StreamResponse:
    body = orjson.loads(await request.read())
    model = str(body.get("model", ""))
    stream = bool(body.get("stream"))
    if model == "fail-500":
        return web.json_response({"error": {"message": "boom", "type": "server_error"}}, status=500)
    if model == "fail-429":
        return web.json_response({"error": {"message": "slow down", "type": "rate_limit"}},
                                 status=429, headers={"Retry-After": "0"})
    if model == "oversized":
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)  # chunked: no length declared up front
        with contextlib.suppress(ConnectionError, aiohttp.ClientError):
            await response.write(b'{"pad": "' + b"x" * (2 * MAX_RESPONSE) + b'"}')
        return response
    if model == "endless-sse":
        return await _endless(request, "text/event-stream", b"data: {")
    if model == "endless-json":
        return await _endless(request, "application/json", b'{"pad": "')
    if model == "slow-stream":
        return await _stream(request, 20, pace=0.005)
    if stream:
        return await _stream(request, 10)
    return web.Response(body=ANSWER, content_type="application/json")


def serve_upstream() -> None:
    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", chat)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# -- the daemon ------------------------------------------------------------------------------

def start_daemon(home: Path, upstream: str) -> tuple[int, int, dict[str, str]]:
    (home / "config.yaml").write_text(f"""\
server:
  port: 0
  limits: {{max_response_bytes: {MAX_RESPONSE}, max_event_bytes: {MAX_EVENT}}}
providers:
  up:
    type: openai
    base_url: {upstream}/v1
    api_key: none
    models: ['*']
    timeout: {{connect: 5, first_token: 10, idle: 5, total: 30}}
    health_check: {{enabled: false}}
  mock: {{type: mock, models: ['*']}}
defaults:
  retry: {{attempts: 0}}
  # Circuits that never open: every request of the mix reaches its upstream.
  circuit_breaker: {{failure_threshold: 1000000, window: 5}}
""")
    env = {**os.environ, "LLMP_HOME": str(home), "PYTHONPATH": str(SRC)}
    started = subprocess.run([sys.executable, "-m", "llmp", "start", "--port", "0"], env=env,
                             capture_output=True, text=True, timeout=120)
    if started.returncode != 0:
        raise SystemExit(f"llmp start failed: {started.stderr}{started.stdout}")
    state = orjson.loads((home / "daemon.json").read_bytes())
    return state["pid"], state["port"], env


# -- the load --------------------------------------------------------------------------------

MIX = (("plain", 30), ("stream", 20), ("error", 10), ("unknown", 10), ("random", 10),
       ("aborted", 8), ("oversized", 6), ("endless", 6))
KINDS = [kind for kind, share in MIX for _ in range(share)]


def _name(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits + "-._",
                               k=rng.randint(1, 480)))


def request_for(kind: str, rng: random.Random) -> tuple[dict, bool]:
    """The body of one request of `kind`, and whether the client drops it after its first event."""
    messages = [{"role": "user", "content": "hi"}]
    if kind == "plain":
        return {"model": "up/gpt-4o-mini", "messages": messages}, False
    if kind == "stream":
        return {"model": "up/gpt-4o-mini", "messages": messages, "stream": True}, False
    if kind == "error":
        failing = rng.choice(["up/fail-500", "up/fail-429", "mock/failing"])
        extra = {"mock": {"fail_status": 503}} if failing.startswith("mock") else {}
        return {"model": failing, "messages": messages, **extra}, False
    if kind == "unknown":
        return {"model": "nobody-" + _name(rng), "messages": messages}, False
    if kind == "random":
        return {"model": rng.choice(["up/", "mock/"]) + _name(rng), "messages": messages,
                "stream": rng.random() < 0.5}, False
    if kind == "aborted":
        return {"model": "up/slow-stream", "messages": messages, "stream": True}, True
    if kind == "oversized":
        return {"model": "up/oversized", "messages": messages}, False
    endless = rng.choice(["endless-sse", "endless-json"])
    return {"model": f"up/{endless}", "messages": messages, "stream": endless == "endless-sse"}, False


async def one(session: aiohttp.ClientSession, url: str, kind: str, rng: random.Random) -> int:
    body, abort = request_for(kind, rng)
    async with session.post(url, data=orjson.dumps(body),
                            headers={"Content-Type": "application/json"}) as response:
        if abort:
            await response.content.readany()
            response.close()  # the client goes away mid-stream
            return 499
        await response.read()
        return response.status


async def run_load(port: int, pid: int, requests: int, concurrency: int, seed: int,
                   every: int) -> list[int]:
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    daemon = psutil.Process(pid)
    rng = random.Random(seed)
    statuses: Counter[int] = Counter()
    samples: list[int] = []
    sent = 0
    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout,
                                     connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        while sent < requests:
            batch = min(every, requests - sent)
            queue = [rng.choice(KINDS) for _ in range(batch)]

            async def worker(queue: list[str] = queue) -> None:
                while queue:
                    kind = queue.pop()
                    try:
                        statuses[await one(session, url, kind, rng)] += 1
                    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                        statuses[type(exc).__name__] += 1  # type: ignore[index]

            await asyncio.gather(*(worker() for _ in range(concurrency)))
            sent += batch
            await asyncio.sleep(1.0)  # telemetry settles what these requests left behind
            rss = daemon.memory_info().rss
            samples.append(rss)
            rate = sent / (time.monotonic() - started)
            print(f"{sent:>7} requests  RSS {rss / 2**20:7.1f} MiB  ({rate:.0f} req/s)", flush=True)
    print("statuses:", dict(sorted(statuses.items(), key=str)))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--sample-every", type=int, default=SAMPLE_EVERY)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_upstream()
        return
    upstream = subprocess.Popen([sys.executable, str(HERE), "--serve"], stdout=subprocess.PIPE,
                                text=True)
    assert upstream.stdout is not None
    upstream_url = f"http://127.0.0.1:{upstream.stdout.readline().strip()}"
    with tempfile.TemporaryDirectory(prefix="llmp-soak-") as folder:
        home = Path(folder)
        os.chmod(home, 0o700)
        pid, port, env = start_daemon(home, upstream_url)
        try:
            samples = asyncio.run(run_load(port, pid, args.requests, args.concurrency, args.seed,
                                           args.sample_every))
        finally:
            subprocess.run([sys.executable, "-m", "llmp", "stop"], env=env, capture_output=True,
                           timeout=60)
            upstream.terminate()
            upstream.wait(10)
    first, last = samples[0], samples[-1]
    growth = last / first - 1
    print(f"RSS after {args.sample_every:,}: {first / 2**20:.1f} MiB; after {args.requests:,}: "
          f"{last / 2**20:.1f} MiB ({growth:+.1%}, at most {MAX_GROWTH:+.0%})")
    if len(samples) < 2:
        print("fewer than two samples: nothing to compare")
    sys.exit(1 if growth > MAX_GROWTH else 0)


if __name__ == "__main__":
    main()
