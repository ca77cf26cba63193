"""The log's path off the event loop, made cheap enough for a line per request.

The standard pieces spend most of an access line's cost on things the daemon
never shows (the caller's frame, thread and process names), copy every record
before queueing it, and flush the file after every line. Here the loop side
only renders the message and enqueues; the writer thread flushes the file when
the queue runs dry, so a burst costs one write and a quiet daemon's log is
still up to date a moment after each line. Access lines skip records: the
telemetry thread makes a batch of them as the JSON objects of their lines and
queues the batch as one item (`Enqueue.put_lines`), in order with every other
line; the writer only serialises them into the file.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import queue
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

import orjson

from llmp.daemon.telemetry.sink_health import HEALTH

_EXCEPTIONS = logging.Formatter()
BATCH_BUFFER = 1 << 18  # bytes of log lines written in one go; the writer flushes when caught up
#: Items (records, or batches of access lines) waiting for the writer. Past it, lines are
#: dropped and counted: a writer that cannot keep up (a stalled disk) must not grow memory.
MAX_QUEUED = 10_000
#: A line of the file as the telemetry thread hands it over: the Unix time it tells of, and
#: its whole JSON object (`ts`, `level`, `logger`, `msg`, then its fields).
Line = tuple[float, dict[str, Any]]


def skip_unused_record_fields() -> None:
    """The logging HOWTO's optimisations: no caller frame, thread or process lookups per record."""
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


@dataclass(slots=True)
class Lines:
    """A batch of access lines, queued as one item (see `Enqueue.put_lines`)."""

    logger: str
    level: int
    lines: Sequence[Line]


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


#: `2026-01-02T03:04:05.678Z` for a Unix time: the `ts` of a line of the file.
timestamp = _Timestamps()


def json_line(created: float, level: str, logger: str, fields: dict[str, Any]) -> bytes:
    """One line of the log file, without its newline: `ts`, `level` (as the file spells it:
    lower case), `logger`, then `fields`."""
    entry: dict[str, Any] = {"ts": timestamp(created), "level": level, "logger": logger}
    entry.update(fields)
    return orjson.dumps(entry, default=str)


class Enqueue(logging.handlers.QueueHandler):
    """Render the message (arguments may not survive the thread hop) and queue the record itself.

    The standard handler copies each record first, to protect other handlers
    of the same record; this one is the root logger's only handler.
    """

    def put_lines(self, logger: str, level: int, lines: Sequence[Line]) -> None:
        """Queue lines made whole by the caller (see `Line`) as one item: a put and a get cost
        about a microsecond each, and a batch is written in order with every other record."""
        if self.queue.qsize() >= MAX_QUEUED:  # type: ignore[union-attr]
            HEALTH.drop("log", len(lines))
            return
        self.queue.put_nowait(Lines(logger, level, lines))

    def enqueue(self, record: logging.LogRecord) -> None:
        if self.queue.qsize() >= MAX_QUEUED:  # type: ignore[union-attr]
            HEALTH.drop("log", 1)
            return
        self.queue.put_nowait(record)

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
    Access lines (see `write_lines`) go from orjson to the buffer as they are.
    """

    stream: IO[bytes] | None  # type: ignore[assignment]
    _size = -1  # bytes in the file, measured again after each rotation
    _unflushed = 0  # lines in the buffer since the last flush: what a failed flush loses
    #: The file could not be written (full disk, read-only or deleted folder): lines are dropped
    #: and counted until the writer's next flush, which lets the next line try the file again.
    _failing = False
    _retry = False

    def _open(self) -> IO[bytes]:  # type: ignore[override]
        # A folder deleted under a running daemon comes back when the file is opened again.
        os.makedirs(os.path.dirname(self.baseFilename), mode=0o700, exist_ok=True)
        # A buffer that holds a whole batch: one write call (which lets go of the GIL, handing
        # it to the event loop and back) per batch rather than one every 8 KiB.
        return self._builtin_open(self.baseFilename, "ab", buffering=BATCH_BUFFER)  # type: ignore[attr-defined]

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write(self.format(record).encode() + b"\n")
        except OSError as exc:
            self._failed(exc, 1)
        except Exception:
            self.handleError(record)

    def write_lines(self, lines: Sequence[Line]) -> list[Line]:
        """Write lines made whole by the telemetry thread (see `Line`); return those JSON refuses.

        The standard path then reports why such a line failed, as it does for
        any record. A write that fails drops the rest of the batch (counted).
        """
        dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        refused = []
        with self.lock:  # type: ignore[union-attr]
            for index, line in enumerate(lines):
                try:
                    self.write(dumps(line[1], option=newline))
                except OSError as exc:  # the rest would fail the same way: dropped, counted
                    self._failed(exc, len(lines) - index)
                    break
                except Exception:
                    refused.append(line)
        return refused

    def write(self, line: bytes) -> None:
        """Append a line (given with its newline), rotating first if it would fill the file."""
        if self._failing and not self._retry:
            raise OSError("the log file is failing")  # counted by the caller, not retried per line
        if self.stream is None:
            self.stream = self._open()
        if self.maxBytes > 0:
            if self._size < 0:
                self._size = self.stream.seek(0, 2)
            if self._size and self._size + len(line) >= self.maxBytes:  # an empty file takes any line
                self.doRollover()
                self._size = self.stream.seek(0, 2)
            self._size += len(line)
        self.stream.write(line)
        self._unflushed += 1

    def flush(self) -> None:
        """Per-record flush skipped; closing or rotating still flushes."""

    def flush_now(self) -> None:
        """Flush what is buffered; a failure drops it (counted) rather than ending the writer."""
        try:
            super().flush()
        except OSError as exc:
            self._failed(exc, 0)
            return
        if self._unflushed:
            self._unflushed = 0
            if self._failing:  # lines reached the file again
                self._failing = False
                HEALTH.recovered("log")
        self._retry = self._failing  # the next batch tries the file again

    def _failed(self, exc: OSError, lines: int) -> None:
        """Drop the buffered lines and `lines` more, close the file (opened again on retry)."""
        dropped, self._unflushed = self._unflushed + lines, 0
        self._failing = True
        self._retry = False
        stream, self.stream = self.stream, None
        self._size = -1
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):  # flushing on close fails the same way
                stream.close()
        HEALTH.drop("log", dropped, exc.strerror or type(exc).__name__)

    def handleError(self, record: logging.LogRecord) -> None:
        """A rotation that fails is a failing file too: counted, never a traceback per line."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            self._failed(exc, 1)
        else:
            super().handleError(record)


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

    def handle(self, record: Any) -> None:
        try:
            if isinstance(record, Lines):
                self._write_lines(record)
            else:
                super().handle(record)
        except Exception:  # whatever it was, the writer thread must outlive it
            HEALTH.drop("log", len(record.lines) if isinstance(record, Lines) else 1)

    def _write_lines(self, batch: Lines) -> None:
        """Write a batch of access lines; a handler other than the file (the console) gets records."""
        for handler in self.handlers:
            if self.respect_handler_level and batch.level < handler.level:
                continue
            rest = handler.write_lines(batch.lines) if isinstance(handler, QuietFile) else batch.lines
            for created, entry in rest:
                handler.handle(line_record(batch.logger, batch.level, created, entry))

    def stop(self) -> None:
        super().stop()
        self._flush()

    def _flush(self) -> None:
        for handler in self.handlers:
            if isinstance(handler, QuietFile):
                handler.flush_now()


#: The keys every line of the file starts with, which a record keeps as attributes of its own.
LINE_HEAD = ("ts", "level", "logger", "msg")


def line_record(logger: str, level: int, created: float, entry: dict[str, Any]) -> logging.LogRecord:
    """A line made whole for the file (see `Line`) as a standard record, for any other handler."""
    extra = {key: value for key, value in entry.items() if key not in LINE_HEAD}
    record = logging.getLogger(logger).makeRecord(
        logger, level, "(telemetry)", 0, entry["msg"], (), None, extra=extra)
    record.created, record.msecs = created, created % 1 * 1000
    return record
