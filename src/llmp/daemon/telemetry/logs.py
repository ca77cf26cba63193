"""The daemon's log: JSON lines in a rotating file, readable lines on a console.

Records go through a queue to a background thread, so a slow disk never
stalls the event loop.
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
import sys
from pathlib import Path
from typing import Any

from llmp.core.config_schema import LoggingConfig
from llmp.core.redact import RECORD_FIELDS, RedactingFilter
from llmp.daemon.telemetry.log_queue import (
    Enqueue,
    QuietFile,
    Writer,
    json_line,
    skip_unused_record_fields,
)
from llmp.daemon.telemetry.request_log_context import RequestIdFilter


class JsonFormatter(logging.Formatter):
    """A record as a line of the file (`json_line`): its message, then its extras."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {"msg": record.getMessage()}
        for key, value in vars(record).items():
            if key not in RECORD_FIELDS and not key.startswith("_"):
                fields[key] = value
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        return json_line(record.created, record.levelname.lower(), record.name, fields).decode()


class ConsoleFormatter(logging.Formatter):
    """`12:00:01 INFO    chat gpt-4o -> openai/gpt-4o 200 812ms ...  [req_…]` for `--foreground`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{text}  [{request_id}]" if request_id else text


def setup_logging(
    log_file: Path, config: LoggingConfig, *, console: bool
) -> logging.handlers.QueueListener:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    file_handler = QuietFile(log_file, maxBytes=config.max_bytes, backupCount=config.backup_count)
    file_handler.setFormatter(JsonFormatter())
    handlers: list[logging.Handler] = [file_handler]
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(ConsoleFormatter())
        handlers.append(stream)
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = Writer(records, *handlers, respect_handler_level=False)
    root = logging.getLogger()
    skip_unused_record_fields()
    enqueue = Enqueue(records)
    enqueue.addFilter(RequestIdFilter())  # on the logging thread, where the request's id is known
    enqueue.addFilter(RedactingFilter())  # masks keys before any handler sees a record
    root.handlers[:] = [enqueue]
    apply_level(config)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    listener.start()
    return listener


def apply_level(config: LoggingConfig) -> None:
    """Set the daemon's log level: at start, and again when a reload changes it."""
    logging.getLogger().setLevel(config.level.upper())
