"""The daemon process: load config, listen, record the state file, serve until told to stop.

Exit codes: 0 stopped cleanly, 2 bad configuration, 3 address unavailable.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import signal
import sys
import time
from pathlib import Path

from aiohttp import web

from llmp.core.audit import BackgroundWriter
from llmp.core.config_loader import ConfigError, LoadedConfig, apply_overrides, load_config
from llmp.core.config_schema import LimitsConfig
from llmp.core.paths import Paths, config_file_from_env, resolve_paths
from llmp.core.process_env import user_environment
from llmp.core.redact import redact
from llmp.core.state import DaemonState, new_token, process_create_time, remove_state, write_state
from llmp.core.unpacked import claim
from llmp.daemon import event_loop
from llmp.daemon.api.admin import SHUTDOWN
from llmp.daemon.app import build_app
from llmp.daemon.heap import settle_heap
from llmp.daemon.output import bound_output
from llmp.daemon.runtime import Runtime
from llmp.daemon.security.exposure import check_exposure
from llmp.daemon.security.limits import runner_options
from llmp.daemon.telemetry.logs import apply_level, setup_logging

EXIT_CONFIG = 2
EXIT_ADDRESS = 3
log = logging.getLogger("llmp.daemon")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="llmp __daemon__")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--config")
    parser.add_argument("--foreground", action="store_true")
    args = parser.parse_args(argv)
    bound_output()
    paths = resolve_paths()
    paths.ensure()
    owner = settle_process(paths, detached=not args.foreground)
    try:
        return _run(args, paths)
    finally:
        if owner is not None:
            owner.unlink(missing_ok=True)


def _run(args: argparse.Namespace, paths: Paths) -> int:
    explicit = bool(args.config or os.environ.get("LLMP_CONFIG"))
    try:
        loaded = load_config(config_file_from_env(paths, args.config), explicit=explicit)
        flags = {"host": args.host, "port": args.port}
        apply_overrides(loaded.config, **flags)
        check_exposure(loaded.config.server)
        runtime = Runtime(loaded, new_token(), overrides=flags)
    except (ConfigError, LookupError) as exc:
        print(f"llmp: {redact(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    except Exception as exc:  # a resolver error names the alias target at fault
        print(f"llmp: invalid configuration: {redact(str(getattr(exc, 'message', exc)))}",
              file=sys.stderr)
        return EXIT_CONFIG
    listener = setup_logging(paths.log_file, loaded.config.logging, console=args.foreground)
    runtime.reload_listeners.append(lambda config: apply_level(config.logging))
    audit_writer = BackgroundWriter().start()
    try:
        return event_loop.run(_serve(runtime, loaded, paths))
    finally:
        audit_writer.stop()
        listener.stop()


def settle_process(paths: Paths, *, detached: bool) -> Path | None:
    """The user's environment (not a one-file bootloader's) for whatever the daemon starts.

    A detached daemon also claims its unpacked folder in llmp's cache (the owner
    file returned is removed at exit), so a later `llmp start` knows whose it is,
    and works from the state folder rather than holding open the folder `llmp
    start` was typed in.
    """
    bundle = getattr(sys, "_MEIPASS", None) if getattr(sys, "frozen", False) else None
    cleaned = user_environment(os.environ, bundle)
    os.environ.clear()
    os.environ.update(cleaned)
    if not detached:
        return None
    os.chdir(paths.state_dir)
    if bundle is None or Path(bundle).parent.resolve() != paths.unpack_dir.resolve():
        return None
    pid = os.getpid()
    try:
        return claim(Path(bundle), pid, process_create_time(pid) or time.time())
    except OSError:
        return None


def make_runner(app: web.Application, limits: LimitsConfig) -> web.AppRunner:
    """The daemon's server around its application (the benchmarks serve through it too).

    A client that goes away cancels its handler, and with it the upstream
    request; aiohttp's own access log is off (llmp writes its own).
    """
    return web.AppRunner(app, handler_cancellation=True, access_log=None, **runner_options(limits))


async def _serve(runtime: Runtime, loaded: LoadedConfig, paths: Paths) -> int:
    app = build_app(runtime)
    runner = make_runner(app, loaded.config.server.limits)
    await runner.setup()
    server = loaded.config.server
    site = web.TCPSite(runner, server.host, server.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
            from llmp.daemon.port_owner import port_in_use_message

            print(f"llmp: {port_in_use_message(server.host, server.port)}", file=sys.stderr)
        else:
            print(f"llmp: cannot listen on {server.host}:{server.port}: {exc.strerror}",
                  file=sys.stderr)
        return EXIT_ADDRESS
    server.port = runner.addresses[0][1]  # the real port when 0 asked for any free one
    pid = os.getpid()
    write_state(paths.state_file, DaemonState(
        pid=pid,
        create_time=process_create_time(pid) or time.time(),
        host=server.host,
        port=server.port,
        token=runtime.token,
        version=runtime.version,
        started_at=runtime.started_at,
        config_file=str(loaded.source) if loaded.source else None,
    ))
    log.info("llmp %s listening on %s:%d (pid %d)", runtime.version, server.host, server.port, pid)
    settle_heap()
    stop = app[SHUTDOWN]
    _install_signal_handlers(stop)
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        remove_state(paths.state_file, only_pid=pid)
        await runner.cleanup()
    return 0


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for name in ("SIGTERM", "SIGINT", "SIGBREAK"):
        number = getattr(signal, name, None)
        if number is None:
            continue
        try:
            loop.add_signal_handler(number, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows: no loop signal handlers
            signal.signal(number, lambda *_: loop.call_soon_threadsafe(stop.set))
