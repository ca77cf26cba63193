"""The daemon's real logging set-up (queue, filter, JSON file) around an in-process gateway."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llmp.core.config_schema import LoggingConfig
from llmp.daemon.telemetry.logs import setup_logging
from llmp.daemon.telemetry.settler import settle_all


class JsonLog:
    def __init__(self, path: Path, config: LoggingConfig) -> None:
        self.path = path
        self._listener = setup_logging(path, config, console=False)

    def records(self) -> list[dict[str, Any]]:
        """Every record written so far (stops the writer first, so nothing is still queued).

        In-process gateways' finished requests are settled first: their access
        lines are queued in batches, off the event loop.
        """
        settle_all()
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        return [json.loads(line) for line in self.path.read_text("utf-8").splitlines() if line]

    def close(self) -> None:
        if self._listener is not None:
            self._listener.stop()


_PROCESS_WIDE = ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing")


@contextmanager
def json_log(path: Path, config: LoggingConfig | None = None) -> Iterator[JsonLog]:
    """The daemon's logging for the duration of a test; the test process's own comes back after."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_flags = {name: getattr(logging, name) for name in _PROCESS_WIDE}
    log = JsonLog(path, config or LoggingConfig(level="debug"))
    try:
        yield log
    finally:
        log.close()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, value in saved_flags.items():
            setattr(logging, name, value)
