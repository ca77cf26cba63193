"""The daemon's life once settled: load config, listen, record the state file, serve until told to stop.

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

from llmp.core import keyring_child, keyring_store
from llmp.core.audit import BackgroundWriter
from llmp.core.config_loader import ConfigError, LoadedConfig, apply_overrides, load_config
from llmp.core.config_schema import LimitsConfig
from llmp.core.paths import Paths
from llmp.core.redact import redact
from llmp.core.state import DaemonState, new_token, process_create_time, remove_state, write_state
from llmp.daemon import event_loop
from llmp.daemon.api.admin import SHUTDOWN
from llmp.daemon.app import build_app
from llmp.daemon.heap import RequestsFinished, keep_heap_settled, start_serving
from llmp.daemon.protocol_errors import Runner
from llmp.daemon.runtime import Runtime
from llmp.daemon.security.connections import (
    CappedSite,
    ConnectionCap,
    default_max_connections,
    raise_descriptor_limit,
)
from llmp.daemon.security.exposure import check_exposure
from llmp.daemon.security.limits import runner_options
from llmp.daemon.telemetry.logs import apply_level, setup_logging

EXIT_CONFIG = 2
EXIT_ADDRESS = 3
log = logging.getLogger("llmp.daemon")


def run(args: argparse.Namespace, paths: Paths, source: Path, *, explicit: bool) -> int:
    """`source`: the config file to read; `explicit`: named by --config or LLMP_CONFIG, so it
    must exist (else the built-in defaults serve)."""
    descriptors = raise_descriptor_limit()
    try:
        # The built-in config and then its providers read the same keys: one lookup for both.
        with keyring_store.remembering():
            loaded = load_config(source, explicit=explicit)
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
        return event_loop.run(_serve(runtime, loaded, paths, descriptors))
    finally:
        audit_writer.stop()
        listener.stop()


async def _serve(runtime: Runtime, loaded: LoadedConfig, paths: Paths, descriptors: int | None) -> int:
    app = build_app(runtime)
    keyring_child.let_go()  # start-up has read every key it needs
    runner = make_runner(app, loaded.config.server.limits)
    await runner.setup()
    server = loaded.config.server
    limit = server.limits.max_connections or default_max_connections(descriptors)
    refused = runtime.metrics.connections_refused.inc
    site = CappedSite(runner, server.host, server.port, lambda s: ConnectionCap(s, limit, refused))
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
    # From the moment it listens a SIGTERM/SIGINT must end it cleanly: installed later, a signal
    # that came while the state file was being written was lost or left the daemon hanging.
    stop = app[SHUTDOWN]
    _install_signal_handlers(stop)
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
    start_serving()
    finished = RequestsFinished()
    runtime.observers.append(finished)
    settling = asyncio.get_running_loop().create_task(
        keep_heap_settled(finished, lambda: runtime.in_flight))
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        settling.cancel()
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


def make_runner(app: web.Application, limits: LimitsConfig) -> web.AppRunner:
    """The daemon's server around its application (the benchmarks serve through it too).

    A client that goes away cancels its handler, and with it the upstream
    request; aiohttp's own access log is off (llmp writes its own); aiohttp's own
    error answers are JSON (`protocol_errors`).
    """
    return Runner(app, handler_cancellation=True, access_log=None, **runner_options(limits))
