"""The log's path off the event loop, made cheap enough for a line per request.

The standard pieces spend most of an access line's cost on things the daemon
never shows (the caller's frame, thread and process names), copy every record
before queueing it, and flush the file after every line. Here the loop side
only renders the message and enqueues; the writer thread flushes the file when
the queue runs dry, so a burst costs one write and a quiet daemon's log is
still up to date a moment after each line.
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
import time
from dataclasses import dataclass
from typing import IO, Any

import orjson

_EXCEPTIONS = logging.Formatter()


def skip_unused_record_fields() -> None:
    """The logging HOWTO's optimisations: no caller frame, thread or process lookups per record."""
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


@dataclass(frozen=True, slots=True)
class Deferred:
    """A log line whose record the writer thread builds: see `Enqueue.defer`."""

    logger: str
    level: int
    msg: str
    args: tuple[Any, ...]
    fields: dict[str, Any]
    source: Enqueue


class _Timestamps:
    """`2026-01-02T03:04:05.678Z`: strftime runs once a second, not once a line."""

    def __init__(self) -> None:
        self._second: tuple[int, str] = (-1, "")  # one tuple, so a reader never sees half an update

    def __call__(self, created: float) -> str:
        second = int(created)
        cached, prefix = self._second
        if second != cached:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, prefix)
        return f"{prefix}.{int((created - second) * 1000):03d}Z"


_timestamp = _Timestamps()


def json_line(created: float, level: str, logger: str, fields: dict[str, Any]) -> bytes:
    """One line of the log file, without its newline: `ts`, `level`, `logger`, then `fields`."""
    entry: dict[str, Any] = {"ts": _timestamp(created), "level": level.lower(), "logger": logger}
    entry.update(fields)
    return orjson.dumps(entry, default=str)


class Enqueue(logging.handlers.QueueHandler):
    """Render the message (arguments may not survive the thread hop) and queue the record itself.

    The standard handler copies each record first, to protect other handlers
    of the same record; this one is the root logger's only handler.
    """

    def defer(self, logger: str, level: int, msg: str, args: tuple[Any, ...],
              fields: dict[str, Any]) -> None:
        """Queue a line whose fields are all known now, leaving the record to the writer.

        Building a `LogRecord` is most of what a line costs the event loop; the
        access line (one per request) has no caller, exception or context to
        capture, so the writer thread can build it. Its filters run there too.
        """
        self.queue.put_nowait(Deferred(logger, level, msg, args, fields, self))

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + _EXCEPTIONS.formatException(record.exc_info)
            record.exc_info = None
        record.message = record.msg = message
        record.args = None
        record.exc_text = None
        record.stack_info = None
        return record


class QuietFile(logging.handlers.RotatingFileHandler):
    """The rotating JSON-lines file, written in UTF-8 bytes and flushed by the writer thread (see `Writer`).

    It keeps count of its size in bytes: the standard check stats the path and
    seeks the file for every record, and the seek flushes what was buffered.
    """

    stream: IO[bytes] | None  # type: ignore[assignment]
    _size = -1  # bytes in the file, measured again after each rotation

    def _open(self) -> IO[bytes]:  # type: ignore[override]
        return self._builtin_open(self.baseFilename, "ab")  # type: ignore[attr-defined]

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write(self.format(record).encode())
        except Exception:
            self.handleError(record)

    def write(self, line: bytes) -> None:
        """Append a line (given without its newline), rotating first if it would fill the file."""
        if self.stream is None:
            self.stream = self._open()
        if self.maxBytes > 0:
            if self._size < 0:
                self._size = self.stream.seek(0, 2)
            if self._size and self._size + len(line) + 1 >= self.maxBytes:  # an empty file takes any line
                self.doRollover()
                self._size = self.stream.seek(0, 2)
            self._size += len(line) + 1
        self.stream.write(line + b"\n")

    def flush(self) -> None:
        """Per-record flush skipped; closing or rotating still flushes."""

    def flush_now(self) -> None:
        super().flush()


def installed() -> Enqueue | None:
    """The daemon's queue handler, when the daemon's logging is set up (not in every process)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, Enqueue):
            return handler
    return None


class Writer(logging.handlers.QueueListener):
    """The background writer: flushes its files whenever it has caught up, then pauses briefly."""

    pause = 0.05  # seconds a caught-up writer lets lines gather before it waits for the next

    def dequeue(self, block: bool) -> Any:
        records: Any = self.queue
        try:
            return records.get(block=False)
        except queue.Empty:
            self._flush()
            # Waking this thread for every line costs the event loop a GIL hand-over each time;
            # a short pause turns a burst of lines into one wake-up.
            time.sleep(self.pause)
            return records.get(block)

    def prepare(self, record: Any) -> Any:
        if not isinstance(record, Deferred):
            return record
        built = logging.getLogger(record.logger).makeRecord(
            record.logger, record.level, "(deferred)", 0, record.msg, record.args, None,
            extra=record.fields)
        return record.source.prepare(built) if record.source.filter(built) else None

    def handle(self, record: Any) -> None:
        record = self.prepare(record)
        if record is not None:
            for handler in self.handlers:
                if not self.respect_handler_level or record.levelno >= handler.level:
                    handler.handle(record)

    def stop(self) -> None:
        super().stop()
        self._flush()

    def _flush(self) -> None:
        for handler in self.handlers:
            if isinstance(handler, QuietFile):
                handler.flush_now()
