"""The upstream HTTP client: one pooled aiohttp session per provider.

It turns transport failures (refused, reset, timed out, cut mid-body) into
`UpstreamError`s with the right kind, and an upstream's error answer into one
too, so adapters deal only with their own wire formats.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from llmp.core.config_schema import LimitsConfig, TimeoutConfig
from llmp.daemon.errors import ErrorKind, UpstreamError
from llmp.daemon.providers.silence import watch_silence
from llmp.daemon.providers.slots import Slots
from llmp.daemon.providers.tls import upstream_tls

USER_AGENT = "llmp"
#: The member a successful answer must hold (or one of several), None to check nothing.
Expected = str | tuple[str, ...] | None
MAX_ERROR_BODY = 64 * 1024  # bytes of an upstream's error answer read: enough for any message
EVENT_STREAM = "text/event-stream"


#: Exchanges at once with one provider when its `rate_limit.max_concurrent` is not set:
#: a thousand concurrent streams and the health checks besides.
DEFAULT_CONNECTIONS = 1024


class UpstreamHTTP:
    def __init__(self, provider: str, timeout: TimeoutConfig, limits: LimitsConfig | None = None,
                 connections: int | None = None) -> None:
        self.provider = provider
        self.timeout = timeout
        #: `server.limits`: the runtime sets the configured ones before the provider starts.
        self.limits = limits or LimitsConfig()
        #: The pool's size (`rate_limit.max_concurrent`): the router takes a slot per request.
        self.slots = Slots(connections or DEFAULT_CONNECTIONS)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        # No limit of aiohttp's own: its wait for a connection would run inside the request's
        # timers (see `slots`).
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, enable_cleanup_closed=True,
                                         ssl=upstream_tls())
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=self.timeout.total, sock_connect=self.timeout.connect
            ),
            headers={"User-Agent": USER_AGENT},
            json_serialize=lambda obj: orjson.dumps(obj).decode(),
            auto_decompress=True,
            # One session serves every client: a cookie an upstream sets for one
            # request must not ride along on the next client's (and keeping none
            # spares each request the jar's filtering).
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError(f"provider {self.provider} used before start()")
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        error_parser: Callable[[int, bytes, Any], UpstreamError] | None = None,
        stream: bool = False,
    ) -> aiohttp.ClientResponse:
        """Send a request; return the response if it is a success, else raise `UpstreamError`.

        The session's own timeout bounds the whole exchange; a stream's wait for
        its first token is bounded by whoever opens it (dispatch, with one timer
        over the upstream's headers and its first event together). A `stream`
        must be answered as one (`text/event-stream`), and from then on may not
        fall silent for longer than `timeout.idle` between two reads.
        """
        all_headers = {"Content-Type": "application/json"} if body is not None else {}
        if headers:
            all_headers.update(headers)
        try:
            response = await (self._session or self.session).request(
                method, url, data=body, headers=all_headers)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise transport_error(self.provider, exc, answered=False) from exc
        if response.status < 400:
            if stream:
                self._expect_stream(response)
            return response
        try:  # a message, not a body: a bounded read (an endless error page is no one's business)
            payload, _ = await read_at_most(response, MAX_ERROR_BODY)
        except (aiohttp.ClientError, asyncio.TimeoutError):
            payload = b""
        finally:
            response.release()
        parse = error_parser or parse_openai_error
        error = parse(response.status, payload, response.headers)
        error.provider = self.provider
        error.retry_after = error.retry_after or retry_after_seconds(response.headers)
        raise error

    def _expect_stream(self, response: aiohttp.ClientResponse) -> None:
        """A stream answered with anything but SSE (an HTML page, a JSON object) is a 502 before
        any byte reaches the client; else a watch for silence starts."""
        if response.content_type != EVENT_STREAM:
            response.release()
            raise UpstreamError(
                ErrorKind.SERVER_ERROR,
                f"provider '{self.provider}' answered a stream request with "
                f"'{response.content_type}', not an event stream", status=502, provider=self.provider,
                code="not_an_event_stream")
        watch_silence(response, self.timeout.idle)

    async def body(self, response: aiohttp.ClientResponse, expect: Expected = None) -> bytes:
        """`read_answer`'s bytes, within this provider's `max_response_bytes`."""
        return (await read_answer(response, self.provider, self.limits.max_response_bytes, expect))[0]

    async def answer(self, response: aiohttp.ClientResponse,
                     expect: Expected = None) -> tuple[bytes, dict[str, Any] | None]:
        """`read_answer` within this provider's `max_response_bytes`."""
        return await read_answer(response, self.provider, self.limits.max_response_bytes, expect)

    def release_stream(self, response: aiohttp.ClientResponse, ended: bool) -> None:
        """Give a streamed response's connection back, pooled whenever it can be.

        A relay stops at the upstream's terminal event, and the client may hang
        up the moment it has it (the OpenAI SDK does), while the end of the
        upstream's body, which usually follows at once, may not have arrived
        yet. Releasing then would close the connection, and a real provider's
        next request would pay a new TCP and TLS handshake. aiohttp itself
        pools the connection the moment the body ends, read or not, so all
        that is left to do is close it should the end not come within
        `RELEASE_WAIT` (a timer, no task; closing the session closes it sooner).
        A stream that did not end (the client left mid-answer) is closed at
        once, which also stops the upstream generating.
        """
        if not ended or response.content.is_eof():
            response.release()
        else:
            asyncio.get_running_loop().call_later(RELEASE_WAIT, response.release)


#: How long an upstream may take to end its body after its terminal event.
RELEASE_WAIT = 1.0
async def read_answer(response: aiohttp.ClientResponse, provider: str,
                      limit: int = LimitsConfig().max_response_bytes,
                      expect: Expected = None) -> tuple[bytes, dict[str, Any] | None]:
    """The whole body of a successful JSON answer, at most `limit` bytes, and the object it
    parsed to when it was parsed (with `expect`, else None); a cut, timed-out or oversized
    body is an `UpstreamError`.

    HTTP framing (Content-Length, chunked) already reports a body cut short.
    What it cannot see is a body delimited by closing the connection, or a 200
    with nothing, an HTML page or plain text in it: looking at the body's two
    ends catches those for nearly nothing. With `expect`, the answer is parsed
    (orjson: microseconds) and must be an object holding that member, the one
    its format cannot do without (`choices` of a chat completion, say; one of
    several when the format has alternatives), so a `{}` or brace-wrapped
    garbage is not relayed as a success. The parsed object is handed back so
    that what else looks into the answer (the response cache deciding whether
    it is whole) does not parse it again.
    """
    try:
        body, over = await read_at_most(response, limit)
        if over:
            raise too_large(provider, "an answer", "max_response_bytes")
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise transport_error(provider, exc) from exc
    finally:
        response.release()
    if not (body.startswith(b"{") and body.endswith(b"}")):  # else strip: copies the body
        stripped = body.strip()
        if not (stripped.startswith(b"{") and stripped.endswith(b"}")):
            raise _not_an_object(provider)
    if expect is None:
        return body, None
    members = (expect,) if isinstance(expect, str) else expect
    data = json_object(body, provider)
    if not any(member in data for member in members):
        raise incomplete_stream(provider, f"sent an answer without its '{members[0]}'")
    return body, data


async def read_at_most(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """The body, or its first `limit` bytes and True when there is more (then not read on).

    A declared length within the limit is read in one go, as `read()` does; a
    longer one is refused unread; a body without one is gathered read by read.
    """
    declared = response.content_length
    if declared is not None:
        if declared > limit:
            return b"", True
        return await response.read(), False
    pieces: list[bytes] = []
    size = 0
    async for piece in response.content.iter_any():
        size += len(piece)
        if size > limit:
            pieces.append(piece[: limit - size])
            return b"".join(pieces), True
        pieces.append(piece)
    return b"".join(pieces), False


def too_large(provider: str, what: str, option: str) -> UpstreamError:
    """An answer or event past llmp's bound: refused (never buffered on), naming the option."""
    return UpstreamError(
        ErrorKind.SERVER_ERROR, f"provider '{provider}' sent {what} larger than server.limits.{option}",
        status=502, provider=provider, code="response_too_large")


def json_object(payload: bytes, provider: str) -> dict[str, Any]:
    """An upstream's JSON answer; anything but a complete object means the answer was cut."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise _not_an_object(provider)
    return data


def _not_an_object(provider: str) -> UpstreamError:
    return incomplete_stream(provider, "sent an answer that is not a complete JSON object")


def incomplete_stream(
    provider: str, what: str = "ended the stream before it was finished"
) -> UpstreamError:
    """An answer that ended without the provider's terminal event (or closing brace): never
    a clean ending."""
    return UpstreamError(ErrorKind.INCOMPLETE, f"provider '{provider}' {what}", status=502,
                         provider=provider)


def transport_error(provider: str, exc: BaseException, *, answered: bool = True) -> UpstreamError:
    """Name a transport failure without echoing anything but its class and the provider.

    A connection closed before any answer began is a reset connection; closed
    once the answer was under way, it cut that answer short (incomplete).
    """
    if isinstance(exc, aiohttp.SocketTimeoutError) and answered:
        return UpstreamError(
            ErrorKind.TIMEOUT, f"provider '{provider}' fell silent mid-stream (timeout.idle)",
            status=504, provider=provider, code="idle_timeout")
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        connect = isinstance(exc, aiohttp.ConnectionTimeoutError)
        return UpstreamError(
            ErrorKind.TIMEOUT, f"provider '{provider}' timed out", status=504, provider=provider,
            code="connect_timeout" if connect else "total_timeout",
        )
    if isinstance(exc, aiohttp.ServerDisconnectedError) and not answered:
        return UpstreamError(
            ErrorKind.CONNECTION,
            f"provider '{provider}' closed the connection without answering",
            status=502,
            provider=provider,
        )
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
        return UpstreamError(
            ErrorKind.INCOMPLETE,
            f"provider '{provider}' closed the connection before the answer was complete",
            status=502,
            provider=provider,
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamError(
            ErrorKind.CONNECTION,
            f"cannot connect to provider '{provider}': {exc.os_error.strerror or 'refused'}",
            status=502,
            provider=provider,
        )
    return UpstreamError(
        ErrorKind.CONNECTION,
        f"connection to provider '{provider}' failed ({type(exc).__name__})",
        status=502,
        provider=provider,
    )


def kind_for_status(status: int, message: str = "", code: str | None = None) -> ErrorKind:
    """Classify an HTTP error answer; the body refines what the status alone cannot tell."""
    text = f"{code or ''} {message}".lower()
    # OpenAI's 429 `insufficient_quota` and Anthropic's 400 "credit balance is too low":
    # waiting does not help (unlike a per-minute quota, which is a rate limit).
    if "insufficient_quota" in text or "credit balance is too low" in text:
        return ErrorKind.QUOTA
    if status == 429:
        return ErrorKind.RATE_LIMITED
    if status in (401, 403):
        return ErrorKind.AUTH
    if status == 404:
        return ErrorKind.NOT_FOUND
    if status in (408, 504):
        return ErrorKind.TIMEOUT
    if status in (503, 529) or "overloaded" in text:
        return ErrorKind.OVERLOADED
    if status >= 500:
        return ErrorKind.SERVER_ERROR
    if "context_length" in text or "context length" in text or "too many tokens" in text or (
        "prompt is too long" in text
    ):
        return ErrorKind.CONTEXT_LENGTH
    if "content_policy" in text or "content_filter" in text or "safety" in text:
        return ErrorKind.CONTENT_POLICY
    return ErrorKind.BAD_REQUEST


def parse_openai_error(status: int, payload: bytes, headers: Any = None) -> UpstreamError:
    """An OpenAI-shaped error body (`{"error": {"message", "type", "code", "param"}}`)."""
    message, error_type, code, param = "", None, None, None
    try:
        data = orjson.loads(payload) if payload else None
    except orjson.JSONDecodeError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message") or "")
        error_type = error.get("type") if isinstance(error.get("type"), str) else None
        code = str(error["code"]) if error.get("code") is not None else None
        param = error.get("param") if isinstance(error.get("param"), str) else None
    elif isinstance(error, str):
        message = error
    elif isinstance(data, dict) and isinstance(data.get("message"), str):
        message = data["message"]
    if not message:
        snippet = payload[:200].decode("utf-8", "replace").strip()
        message = f"upstream answered HTTP {status}" + (f": {snippet}" if snippet else "")
    kind = kind_for_status(status, message, code)
    return UpstreamError(
        kind, message, status=status, code=code, param=param, error_type=error_type
    )


def retry_after_seconds(headers: Any) -> float | None:
    """How long the upstream asked us to wait: `retry-after-ms`, `x-ms-retry-after-ms`, `Retry-After`."""
    if headers is None:
        return None
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) / 1000.0)
            except ValueError:
                pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
