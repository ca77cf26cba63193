"""llmp against a bare aiohttp pass-through proxy, with telemetry on and off, and llmp's
memory and start-up goals, in one run; exits 1 when a goal is missed.

The goals (the whole daemon process, every thread, telemetry as shipped):

* CPU per plain request at most 1.30x the bare proxy's on the same event loop,
  per streamed event and per paced chunk at most 1.20x (the median of the
  rounds' own ratios);
* under 0.1 ms added latency at the median for plain requests;
* idle RSS of a started daemon at most 50 MiB on the built-in defaults and
  55 MiB with five providers configured; after `--soak` mixed requests (plain,
  streamed, upstream errors, unknown and random model names) RSS within 10% of
  its value after the first tenth of them;
* `llmp start` until ready at most 0.3 s, `llmp status` at most 0.15 s.

`off` shows what the core relay costs and `on - off` what logs, metrics and
the ledger add.

Four processes: a fake OpenAI upstream, and three proxies in front of it —
`bare` (a minimal aiohttp pass-through, the yardstick of the CPU budget), `off`
(llmp with no access log, no ledger and no stream-usage injection; its metrics
and live stats still count) and `on` (llmp as shipped: JSON access log to a file, Prometheus metrics, the
SQLite ledger, live stats, stream usage asked for and hidden). llmp is served
the way the daemon serves it (`serve.make_runner`). Each proxy's own CPU time
(the whole process, and its event-loop thread alone; on Linux from each
thread's schedstat, in nanoseconds) is divided by the requests, or stream
chunks, it served; latency is measured one request at a time, the proxies
taking turns request by request. Within a round the modes run back to back,
and each round starts with another mode; the budget is judged on each round's
own on/bare ratio (the median round is reported, with the spread), since a
shared VM's speed drifts more between rounds than the proxies differ. llmp's
telemetry thread writes a round's log lines and ledger rows a moment after its
requests (the ledger every quarter second), so every load waits `TELEMETRY_LAG`
after its warm-up and after its last request: a round is charged its own
requests' telemetry, all of it, and nothing else.

Three kinds of traffic:

* plain: a non-streamed chat completion;
* stream (burst): the upstream writes the whole answer at once, so a proxy
  reads it in one or two reads: a stream's fixed cost, divided by its events;
* paced: the upstream writes one event at a time, as models do, so each
  event is a read of its own: CPU per streamed chunk.

`--pin` (Linux) puts every proxy on CPU 1 and the upstream and the load on CPU 0:
figures move less from run to run, and a proxy's caches are its own (which
favours the smaller bare proxy). `--loop uvloop` runs every proxy on uvloop
(llmp's `speed` extra), which the daemon uses when it is installed.

    python benchmarks/bench_proxy.py [--requests 400] [--rounds 10] [--pin] [--loop uvloop]
                                     [--soak 100000]   # 25 rounds for the budget
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import orjson
import psutil
from aiohttp import web

GOALS = {"plain": 1.30, "stream": 1.20, "paced": 1.20}  # CPU, llmp as shipped over the bare proxy
LATENCY_GOAL = 0.1  # ms added at the median, plain requests
IDLE_RSS_GOAL = 50.0  # MiB, built-in defaults
IDLE_RSS_PROVIDERS_GOAL = 55.0  # MiB, five providers configured
SOAK_GROWTH_GOAL = 0.10  # RSS after the soak over RSS after its first tenth, less one
START_GOAL = 0.3  # seconds, `llmp start` until ready
STATUS_GOAL = 0.15  # seconds, `llmp status`

CHUNKS = 50  # content events per streamed answer
PACE = 0.0005  # seconds between a paced stream's events
PACED = "paced"  # the `user` a client sends to ask the upstream for a paced stream
FAIL = "fail"  # the `user` a client sends to have the upstream answer 500
HERE = Path(__file__).resolve()
SRC = HERE.parents[1] / "src"

ANSWER = orjson.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello " * 20},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32},
})


def _event(obj: object) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _chunk(delta: dict, finish: str | None = None) -> dict:
    return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


# -- the processes ------------------------------------------------------------

async def upstream_app() -> web.Application:
    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if body.get("user") == FAIL:
            return web.json_response({"error": {"message": "overloaded", "type": "server_error"}},
                                     status=500)
        if not body.get("stream"):
            return web.Response(body=ANSWER, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        paced = body.get("user") == PACED
        await response.write(_event(_chunk({"role": "assistant", "content": ""})))
        for _ in range(CHUNKS):
            await response.write(_event(_chunk({"content": "tok "})))
            if paced:  # a token at a time: each event reaches the proxy in a read of its own
                await asyncio.sleep(PACE)
        await response.write(_event(_chunk({}, "stop")))
        if (body.get("stream_options") or {}).get("include_usage"):
            await response.write(_event({**_chunk({}), "choices": [], "usage": {
                "prompt_tokens": 12, "completion_tokens": CHUNKS, "total_tokens": 12 + CHUNKS}}))
        await response.write(b"data: [DONE]\n\n")
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


async def bare_proxy_app(upstream: str) -> web.Application:
    """The least a pass-through proxy can do: parse, swap the model, relay bytes."""
    session: dict[str, aiohttp.ClientSession] = {}

    async def start(_: web.Application) -> None:
        session["s"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))

    async def chat(request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        payload = orjson.dumps({**body, "model": "gpt-4o-mini"})
        async with session["s"].post(upstream + "/v1/chat/completions", data=payload,
                                     headers={"Content-Type": "application/json"}) as answer:
            if not body.get("stream"):
                return web.Response(body=await answer.read(), content_type="application/json")
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            async for data in answer.content.iter_any():
                await response.write(data)
            await response.write_eof()
            return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.on_startup.append(start)
    return app


def llmp_app(upstream: str, telemetry: bool) -> web.Application:
    from llmp.core.config_loader import LoadedConfig, parse_config
    from llmp.core.paths import resolve_paths
    from llmp.daemon.app import build_app
    from llmp.daemon.runtime import Runtime
    from llmp.daemon.telemetry.logs import setup_logging

    config = parse_config(f"""
providers:
  up: {{type: openai, base_url: "{upstream}/v1", api_key: none, models: [gpt-4o-mini],
        stream_usage: {str(telemetry).lower()}}}
usage: {{enabled: {str(telemetry).lower()}}}
""")
    if telemetry:  # as the daemon does: logging first, then the application
        paths = resolve_paths()
        paths.ensure()
        setup_logging(paths.log_file, config.logging, console=False)
    runtime = Runtime(LoadedConfig(config, Path("bench.yaml")), "bench-token")
    app = build_app(runtime)
    if not telemetry:
        runtime.observers.clear()
    return app


def serve(mode: str, upstream: str, loop: str) -> None:
    async def main() -> None:
        if mode == "upstream":
            runner = web.AppRunner(await upstream_app(), access_log=None)
        elif mode == "bare":
            runner = web.AppRunner(await bare_proxy_app(upstream), access_log=None)
        else:
            from llmp.daemon.runtime import RUNTIME
            from llmp.daemon.serve import make_runner

            app = llmp_app(upstream, telemetry=mode == "on")
            runner = make_runner(app, app[RUNTIME].config.server.limits)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        if mode in ("on", "off"):  # as the daemon does once it listens
            from llmp.daemon.heap import settle_heap

            settle_heap()
        print(runner.addresses[0][1], flush=True)
        await asyncio.Event().wait()

    if loop == "uvloop" and mode != "upstream":
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


def start(mode: str, upstream: str, home: Path, loop: str = "asyncio") -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "LLMP_HOME": str(home / mode), "PYTHONPATH": str(SRC)}
    process = subprocess.Popen([sys.executable, str(HERE), "--serve", mode, "--upstream", upstream,
                                "--loop", loop], stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    port = process.stdout.readline().strip()
    return process, f"http://127.0.0.1:{port}"


# -- the load -----------------------------------------------------------------

_MESSAGES = [{"role": "user", "content": "hi"}]
BODIES = {
    "plain": orjson.dumps({"model": "up/gpt-4o-mini", "messages": _MESSAGES}),
    "stream": orjson.dumps({"model": "up/gpt-4o-mini", "stream": True, "messages": _MESSAGES}),
    "paced": orjson.dumps({"model": "up/gpt-4o-mini", "stream": True, "user": PACED,
                           "messages": _MESSAGES}),
}


async def _one(session: aiohttp.ClientSession, url: str, kind: str) -> float:
    began = time.perf_counter()
    async with session.post(url + "/v1/chat/completions", data=BODIES[kind],
                            headers={"Content-Type": "application/json"}) as response:
        await response.read()
        assert response.status == 200, response.status
    return time.perf_counter() - began


def _cpu(process: psutil.Process) -> tuple[float, float]:
    """CPU seconds of the whole proxy process and of its event-loop (main) thread.

    On Linux each thread's schedstat counts nanoseconds on the CPU; the usual
    counters tick every 10 ms, too coarse for a round of a few hundred requests.
    """
    tasks = Path(f"/proc/{process.pid}/task")
    if tasks.is_dir():
        times = {}
        for task in tasks.iterdir():
            try:
                times[int(task.name)] = int((task / "schedstat").read_text().split()[0]) / 1e9
            except (OSError, ValueError, IndexError):
                continue  # a thread that ended meanwhile
        if process.pid in times:
            return sum(times.values()), times[process.pid]
    total = process.cpu_times()
    loop = next((t for t in process.threads() if t.id == process.pid), None)
    return total.user + total.system, (loop.user_time + loop.system_time) if loop else float("nan")


TELEMETRY_LAG = 0.6  # seconds: more than the telemetry thread's interval and the ledger's commits


async def load(url: str, pid: int, requests: int, kind: str, concurrency: int = 8) -> tuple[float, float]:
    """CPU seconds the proxy spent per request under concurrent load: in all, and on its loop."""
    process = psutil.Process(pid)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        for _ in range(50 if kind == "plain" else 10):  # warm up
            await _one(session, url, kind)
        # llmp writes telemetry out in batches (the usage ledger every quarter second): the waits
        # count this round's requests' share in this round, and only theirs.
        await asyncio.sleep(TELEMETRY_LAG)
        before = _cpu(process)
        remaining = iter(range(requests))

        async def worker() -> None:
            for _ in remaining:
                await _one(session, url, kind)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        await asyncio.sleep(TELEMETRY_LAG)
        after = _cpu(process)
    return (after[0] - before[0]) / requests, (after[1] - before[1]) / requests


async def latencies(urls: dict[str, str], requests: int, kind: str) -> dict[str, float]:
    """Median seconds per request, one at a time, taking turns between the proxies.

    Turn-taking puts every proxy under the same background load, which on a
    shared machine moves medians more than the proxies themselves do.
    """
    async with aiohttp.ClientSession() as session:
        for url in urls.values():
            for _ in range(20):
                await _one(session, url, kind)
        times: dict[str, list[float]] = {mode: [] for mode in urls}
        for _ in range(requests):
            for mode, url in urls.items():
                times[mode].append(await _one(session, url, kind))
    return {mode: statistics.median(samples) for mode, samples in times.items()}


KINDS = ("plain", "stream", "paced")
EVENTS = CHUNKS + 3  # events in a streamed answer (role, content, finish, [DONE])


def _requests(kind: str, plain: int) -> int:
    """Requests per mode and round: streams cost more, and a paced one takes ~50 ms."""
    return {"plain": plain, "stream": max(40, plain // 5), "paced": max(24, plain // 25)}[kind]


def _pin(upstream: int, proxies: list[int]) -> None:
    """Proxies (every thread) on CPU 1; the upstream and this process, the load, on CPU 0."""
    os.sched_setaffinity(0, {0})
    os.sched_setaffinity(upstream, {0})
    for pid in proxies:
        for thread in os.listdir(f"/proc/{pid}/task"):
            os.sched_setaffinity(int(thread), {1})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve")
    parser.add_argument("--upstream", default="")
    parser.add_argument("--requests", type=int, default=400, help="plain requests per mode and round")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--pin", action="store_true", help="proxies on CPU 1, the rest on CPU 0 (Linux)")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio",
                        help="the proxies' event loop")
    parser.add_argument("--soak", type=int, default=100_000, help="mixed requests of the memory soak")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.upstream, args.loop)
        return
    modes = ("bare", "off", "on")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        upstream, upstream_url = start("upstream", "", home)
        proxies = {mode: start(mode, upstream_url, home, args.loop) for mode in modes}
        every_cpu = os.sched_getaffinity(0) if args.pin else None
        if args.pin:
            _pin(upstream.pid, [process.pid for process, _ in proxies.values()])
        results: dict[tuple[str, str], list[float]] = {}
        try:
            for round_no in range(args.rounds):
                turn = round_no % len(modes)  # each round starts with another mode: no order bias
                for kind in KINDS:
                    for mode in (*modes[turn:], *modes[:turn]):  # the modes back to back
                        process, url = proxies[mode]
                        n = _requests(kind, args.requests)
                        cpu, loop_cpu = asyncio.run(load(url, process.pid, n, kind))
                        results.setdefault((mode, kind + "_cpu"), []).append(cpu)
                        results.setdefault((mode, kind + "_loop"), []).append(loop_cpu)
                for kind in ("plain", "stream"):
                    urls = {mode: proxies[mode][1] for mode in modes}
                    for mode, median in asyncio.run(latencies(urls, 100, kind)).items():
                        results.setdefault((mode, kind + "_lat"), []).append(median)
            on, on_url = proxies["on"]
            soak_rss = asyncio.run(soak(on_url, on.pid, args.soak))
        finally:
            for process, _ in [*proxies.values(), (upstream, "")]:
                process.terminate()
                process.wait(10)
        if every_cpu is not None:  # `llmp start` as a user runs it: its keyring reader on another core
            os.sched_setaffinity(0, every_cpu)
        daemon = daemon_figures(home / "daemon")
    missed = report(results, modes, soak_rss, daemon)
    print(f"{len(missed)} goal(s) missed: {', '.join(missed)}" if missed else "every goal met")
    sys.exit(1 if missed else 0)


# -- memory and start-up --------------------------------------------------------

def _mixed_body(n: int) -> bytes:
    """Plain, streamed, failing upstream, unknown model and random model names, in turn."""
    kind = n % 5
    if kind == 0:
        return BODIES["plain"]
    if kind == 1:
        return BODIES["stream"]
    if kind == 2:
        return orjson.dumps({"model": "up/gpt-4o-mini", "user": FAIL, "messages": _MESSAGES})
    if kind == 3:
        return orjson.dumps({"model": f"unknown-{n}", "messages": _MESSAGES})
    return orjson.dumps({"model": f"up/random-{n}", "messages": _MESSAGES})


async def soak(url: str, pid: int, requests: int, concurrency: int = 8) -> tuple[float, float]:
    """RSS (MiB) of llmp as shipped after the first tenth of `requests` mixed requests, and after all."""
    process = psutil.Process(pid)
    sent = iter(range(requests))
    marks: list[float] = []

    async def worker(session: aiohttp.ClientSession, stop: int) -> None:
        for n in sent:
            async with session.post(url + "/v1/chat/completions", data=_mixed_body(n),
                                    headers={"Content-Type": "application/json"}) as response:
                await response.read()
            if n + 1 >= stop:
                return

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        for stop in (requests // 10, requests):
            await asyncio.gather(*(worker(session, stop) for _ in range(concurrency)))
            await asyncio.sleep(TELEMETRY_LAG)
            marks.append(process.memory_info().rss / 2**20)
    return marks[0], marks[1]


FIVE_PROVIDERS = """providers:
  openai: {type: openai, api_key: none, models: [gpt-4o-mini]}
  anthropic: {type: anthropic, api_key: none, models: [claude-sonnet-4-5]}
  gemini: {type: gemini, api_key: none, models: [gemini-2.5-flash]}
  azure: {type: azure, base_url: "https://example.openai.azure.com", api_key: none, models: [gpt-4o]}
  cohere: {type: cohere, api_key: none, models: [command-r]}
"""


def _llmp(home: Path, *args: str) -> float:
    """Seconds one `llmp` command took, as a user runs it."""
    env = {**os.environ, "LLMP_HOME": str(home), "PYTHONPATH": str(SRC)}
    env.pop("LLMP_CONFIG", None)
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "llmp", *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - began


def _idle_rss(home: Path) -> float:
    """RSS (MiB) of the daemon `llmp start` started, once it has settled a moment."""
    state = orjson.loads((home / "daemon.json").read_bytes())
    time.sleep(1.0)
    return psutil.Process(state["pid"]).memory_info().rss / 2**20


def daemon_figures(home: Path, tries: int = 3) -> dict[str, float]:
    """Start time, `llmp status` time (medians of `tries`) and idle RSS of real daemons."""
    home.mkdir(mode=0o700)
    starts, statuses, rss = [], [], []
    try:
        for _ in range(tries):
            starts.append(_llmp(home, "start", "--port", "0"))
            statuses.append(_llmp(home, "status"))
            rss.append(_idle_rss(home))
            _llmp(home, "stop")
        (home / "config.yaml").write_text("server: {port: 0}\n" + FIVE_PROVIDERS)
        _llmp(home, "start")
        providers_rss = _idle_rss(home)
    finally:
        subprocess.run([sys.executable, "-m", "llmp", "stop"], capture_output=True,
                       env={**os.environ, "LLMP_HOME": str(home), "PYTHONPATH": str(SRC)})
    return {"start": statistics.median(starts), "status": statistics.median(statuses),
            "idle_rss": statistics.median(rss), "providers_rss": providers_rss}


# -- the report -------------------------------------------------------------------

def report(results: dict[tuple[str, str], list[float]], modes: tuple[str, ...],
           soak_rss: tuple[float, float], daemon: dict[str, float]) -> list[str]:
    """Print every figure and goal; return the goals missed."""
    value = {key: statistics.median(samples) for key, samples in results.items()}
    print("CPU (all threads; event-loop thread) per plain request, per event of a burst stream and "
          "per chunk of a paced stream; median latency")
    print(f"{'':6}{'plain':>9}{'(loop)':>9}{'burst':>9}{'(loop)':>9}{'paced':>9}{'(loop)':>9}"
          f"{'plain':>11}{'stream':>11}")
    for mode in modes:
        print(f"{mode:6}{value[(mode, 'plain_cpu')] * 1e6:>6.0f} µs"
              f"{value[(mode, 'plain_loop')] * 1e6:>6.0f} µs"
              f"{value[(mode, 'stream_cpu')] / EVENTS * 1e6:>6.1f} µs"
              f"{value[(mode, 'stream_loop')] / EVENTS * 1e6:>6.1f} µs"
              f"{value[(mode, 'paced_cpu')] / EVENTS * 1e6:>6.1f} µs"
              f"{value[(mode, 'paced_loop')] / EVENTS * 1e6:>6.1f} µs"
              f"{value[(mode, 'plain_lat')] * 1e3:>8.3f} ms{value[(mode, 'stream_lat')] * 1e3:>8.3f} ms")
    for kind in KINDS:
        on, off, bare = (value[(m, kind + "_cpu")] for m in ("on", "off", "bare"))
        loop_on, loop_off = value[("on", kind + "_loop")], value[("off", kind + "_loop")]
        print(f"{kind:6} on/off {on / off:.2f}x (loop {loop_on / loop_off:.2f}x), "
              f"off/bare {off / bare:.2f}x; telemetry adds {(on - off) * 1e6:.0f} µs CPU "
              f"({(loop_on - loop_off) * 1e6:.0f} µs on the loop) per request")
    print("The goals, round by round (median [min-max]): llmp as shipped (on) against bare")
    missed = []
    for kind in KINDS:
        ratios = _per_round(results, kind + "_cpu", lambda on, bare: on / bare)
        line = f"{kind:6} CPU {_spread(ratios, 'x')} (goal <= {GOALS[kind]:.2f}x)"
        if statistics.median(ratios) > GOALS[kind]:
            missed.append(f"{kind} CPU")
        added = _per_round(results, kind + "_lat", lambda on, bare: (on - bare) * 1e3) \
            if kind != "paced" else None
        if added is not None:
            line += f"; latency added {_spread(added, ' ms')}"
            if kind == "plain":
                line += f" (goal < {LATENCY_GOAL} ms)"
                if statistics.median(added) >= LATENCY_GOAL:
                    missed.append("plain latency")
        print(line)
    first, last = soak_rss
    growth = last / first - 1
    checks = [
        ("idle RSS", daemon["idle_rss"] <= IDLE_RSS_GOAL,
         f"{daemon['idle_rss']:.1f} MiB (goal <= {IDLE_RSS_GOAL:.0f})"),
        ("idle RSS, five providers", daemon["providers_rss"] <= IDLE_RSS_PROVIDERS_GOAL,
         f"{daemon['providers_rss']:.1f} MiB (goal <= {IDLE_RSS_PROVIDERS_GOAL:.0f})"),
        ("RSS after the soak", growth <= SOAK_GROWTH_GOAL,
         f"{first:.1f} MiB after its first tenth, {last:.1f} MiB after all: {growth:+.1%} "
         f"(goal within {SOAK_GROWTH_GOAL:.0%})"),
        ("start", daemon["start"] <= START_GOAL,
         f"`llmp start` until ready {daemon['start']:.3f} s (goal <= {START_GOAL})"),
        ("status", daemon["status"] <= STATUS_GOAL,
         f"`llmp status` {daemon['status']:.3f} s (goal <= {STATUS_GOAL})"),
    ]
    for name, met, figure in checks:
        print(f"{name:26} {figure}{'' if met else '  MISSED'}")
        if not met:
            missed.append(name)
    return missed


def _per_round(results: dict[tuple[str, str], list[float]], key: str,
               compare: Callable[[float, float], float]) -> list[float]:
    """`compare(on, bare)` for each round: the modes of a round ran close together in time."""
    return [compare(on, bare) for on, bare in zip(results[("on", key)], results[("bare", key)], strict=True)]


def _spread(values: list[float], unit: str) -> str:
    return f"{statistics.median(values):.2f}{unit} [{min(values):.2f}-{max(values):.2f}]"


if __name__ == "__main__":
    main()
