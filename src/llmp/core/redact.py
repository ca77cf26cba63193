"""Masking secrets at the source, before any text leaves the process.

Every key llmp loads is registered here; `redact()` masks those exact values
and the common key shapes (OpenAI/Anthropic `sk-…`, Google `AIza…`, bearer
tokens, JWTs) that may come from elsewhere, e.g. an upstream error that
echoes the key it refused. The logging filter applies it to every record, so
no handler, formatter or third-party logger can write a key to disk.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import sys
import threading
from collections.abc import Iterator
from typing import Any

_SHAPES = re.compile(
    r"(?P<bearer>(?i:bearer)\s+)(?P<token>[A-Za-z0-9._~+/=-]{12,})"
    r"|(?P<key>sk-[A-Za-z0-9_-]{16,}|AIza[0-9A-Za-z_-]{30,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+)"
)
_MIN_SECRET = 8  # shorter values would mask ordinary words
#: Servers often echo a key cut short (`sk-proj-abc...`): this many of its first characters,
#: and whatever key characters follow them, are masked as the key itself.
ECHO_PREFIX = 12
_KEY_TAIL = "[A-Za-z0-9_~+/=-]*"  # no '.': an echo often ends a sentence


def mask(secret: str) -> str:
    """`sk-…abcd`: enough to tell two keys apart, never enough to use one."""
    if len(secret) <= 8:
        return "…"
    prefix = secret[:3] if secret[:3].isascii() else ""
    return f"{prefix}…{secret[-4:]}"


class Redactor:
    """Known secrets plus key-shaped text, replaced by their masked form."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._known: re.Pattern[str] | None = None
        #: A secret's first ECHO_PREFIX characters -> the secrets that start so, longest first.
        self._by_prefix: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def register(self, secret: str | None) -> None:
        if not secret or len(secret) < _MIN_SECRET or secret in self._secrets:
            return
        with self._lock:
            self._secrets.add(secret)
            if len(secret) >= ECHO_PREFIX:
                alike = self._by_prefix.setdefault(secret[:ECHO_PREFIX], [])
                alike.append(secret)
                alike.sort(key=len, reverse=True)
            # Longest first, so a key that contains another is masked whole; a key long enough
            # to be echoed cut short is matched by its first characters and any key tail.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._known = re.compile("|".join(
                re.escape(s) + "|" + re.escape(s[:ECHO_PREFIX]) + _KEY_TAIL if len(s) >= ECHO_PREFIX
                else re.escape(s)
                for s in ordered))

    def redact(self, text: str) -> str:
        if len(text) < _MIN_SECRET:
            return text
        known = self._known
        if known is not None:
            text = known.sub(self._mask_known, text)
        # Substring tests are ~8x cheaper than the shapes regex and rule out most text.
        if "sk-" in text or "AIza" in text or "eyJ" in text or "earer" in text or "EARER" in text:
            return _SHAPES.sub(_mask_shape, text)
        return text

    def _mask_known(self, match: re.Match[str]) -> str:
        """The registered key's own mask, so a cut-short echo shows no more of it than the key's."""
        found = match.group(0)
        alike = self._by_prefix.get(found[:ECHO_PREFIX], ())
        whole = next((s for s in alike if found.startswith(s)), None)  # the key, maybe with more
        cut = next((s for s in reversed(alike) if s.startswith(found)), None)  # the key cut short
        return mask(whole or cut or found)

    def redact_values(self, *dicts: dict[str, Any]) -> None:
        """Redact every string in each of `dicts`, in place: one scan of them all when none needs it.

        Log lines' strings rarely hold a secret, and one scan of them joined
        costs little more than the scan of one (a batch of lines shares one).
        Whatever matches inside one string matches in the joined text too, and
        a mask always differs from what it masks, so an unchanged join means
        nothing to mask. NUL, which no key shape contains, keeps a match from
        spanning two strings.
        """
        joined = "\0".join([text for values in dicts for text in _strings(values.values())])
        if self.redact(joined) == joined:
            return
        for values in dicts:
            for name, value in list(values.items()):
                values[name] = self.redact_any(value)

    def redact_any(self, value: Any) -> Any:
        """A string redacted; a list, tuple or dict rebuilt with its strings redacted (a log
        field may be a list of failures that quote an upstream)."""
        if type(value) is str:
            return self.redact(value)
        if isinstance(value, list | tuple):
            return [self.redact_any(item) for item in value]
        if isinstance(value, dict):
            return {key: self.redact_any(item) for key, item in value.items()}
        return value


def _strings(values: Any) -> Iterator[str]:
    """Every string among `values`, nested lists and dicts included (depth is the caller's: log
    fields are shallow)."""
    for value in values:
        if type(value) is str:
            yield value
        elif isinstance(value, list | tuple):
            yield from _strings(value)
        elif isinstance(value, dict):
            yield from _strings(value.values())


def _mask_shape(match: re.Match[str]) -> str:
    if match.group("bearer"):
        return match.group("bearer") + mask(match.group("token"))
    return mask(match.group("key"))


REDACTOR = Redactor()


def register_secret(secret: str | None) -> None:
    REDACTOR.register(secret)


def redact(text: str) -> str:
    return REDACTOR.redact(text)


def redact_values(*dicts: dict[str, Any]) -> None:
    REDACTOR.redact_values(*dicts)


def redact_bytes(data: bytes) -> bytes:
    """Relayed bytes (an upstream's error event) with keys masked; unchanged bytes are not copied."""
    text = data.decode("utf-8", "surrogateescape")
    masked = REDACTOR.redact(text)
    return data if masked == text else masked.encode("utf-8", "surrogateescape")


#: A record's own attributes (file name, thread name, ...), as opposed to the extras a
#: caller passed: they hold no secrets, and the JSON log writes only the extras as fields.
RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class RedactingFilter(logging.Filter):
    """Rewrites each record's message, string extras and traceback in redacted form.

    The traceback is formatted here and kept as text (`exc_text`, and `exc`
    for the JSON formatter), because a formatter further on would otherwise
    format the live exception again, unredacted.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        fields = vars(record)
        texts = {name: value for name, value in fields.items()
                 if type(value) is str and name not in RECORD_FIELDS}
        texts["msg"] = record.getMessage()
        redact_values(texts)
        fields.update(texts)
        record.args = None
        if record.exc_info:
            text = redact(self._formatter.formatException(record.exc_info))
            record.exc_info = None
            record.exc_text = text
            record.exc = text
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class _HeldStream(io.StringIO):
    """Holds what is written, answering questions about the terminal as the real stream would."""

    def __init__(self, real: Any) -> None:
        super().__init__()
        self.real = real

    def isatty(self) -> bool:
        return bool(getattr(self.real, "isatty", lambda: False)())

    def fileno(self) -> int:
        return int(self.real.fileno())


@contextlib.contextmanager
def redacted_stderr() -> Iterator[None]:
    """Everything written to stderr meanwhile comes out at the end, redacted as one text.

    One text, so a key the writer split over two writes is still seen whole.
    """
    real = sys.stderr
    held = _HeldStream(real)
    sys.stderr = held
    try:
        yield
    finally:
        sys.stderr = real
        real.write(redact(held.getvalue()))
        real.flush()


def report_uncaught(exc: BaseException) -> None:
    """Print an exception nothing caught the way the process would (Typer's pretty traceback
    in the CLI, Python's in the daemon), but with keys masked: an exception's message may
    quote a key (an upstream's error, a URL with `?key=`), and a crash is pasted into bug reports.
    """
    with redacted_stderr():
        sys.excepthook(type(exc), exc, exc.__traceback__)
