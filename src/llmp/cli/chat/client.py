"""The chat's HTTP client of the daemon's OpenAI endpoint (httpx, imported when used).

A streamed reply is read as server-sent events line by line. Leaving the
`with client.stream(...)` block early (Ctrl-C) closes the response before the
daemon has finished sending it, which closes the connection: the daemon sees
its client go and cancels the upstream request, so a stopped reply stops
costing tokens.

What a reply cost is the daemon's to say (its price table and the config's
`prices:`, the same numbers `llmp usage` shows); upstreams do not send it. The
daemon has recorded a request by the time the response body ends, so after a
complete reply the client looks the request up by its `x-request-id` among the
daemon's recent requests (`/admin/stats`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from llmp.cli.openai_answers import AnswerError, delta_text, error_of, read_event

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 600.0  # a slow model may think for minutes between tokens


class ChatError(Exception):
    """A failure already phrased for the user: one line, no traceback."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Reply:
    """One answer and what the footer says about it."""

    text: str = ""
    provider: str | None = None
    model: str | None = None
    usage: dict[str, Any] | None = None
    cost: float | None = None
    started: float = field(default_factory=time.monotonic)
    first_token_at: float | None = None
    finished_at: float | None = None
    raw: bytes = b""  # the daemon's JSON body, for `--json`
    interrupted: bool = False
    request_id: str | None = None

    @property
    def latency(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.started

    @property
    def time_to_first_token(self) -> float | None:
        return None if self.first_token_at is None else self.first_token_at - self.started

    def note_headers(self, headers: Any) -> None:
        self.provider = headers.get("x-llmp-provider") or self.provider
        self.model = headers.get("x-llmp-model") or self.model
        self.request_id = headers.get("x-request-id") or self.request_id

    def note_usage(self, usage: Any) -> None:
        """The upstream's usage; some upstreams (OpenRouter) also say what the reply cost."""
        if isinstance(usage, dict):
            self.usage = usage
            if self.cost is None and usage.get("cost") is not None:
                self.cost = _number(usage["cost"])

    def note_record(self, record: dict[str, Any]) -> None:
        """The daemon's record of this request: its cost, and its token counts when the
        upstream reported none (the daemon estimates them)."""
        if record.get("cost") is not None:
            self.cost = _number(record["cost"])
        if self.usage is None and record.get("tokens_in") is not None:
            self.usage = {"prompt_tokens": record["tokens_in"],
                          "completion_tokens": record.get("tokens_out") or 0}


class ChatClient:
    def __init__(self, base_url: str, admin_token: str | None = None) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        self._admin = {"Authorization": f"Bearer {admin_token}"} if admin_token else None
        self._http = httpx.Client(
            base_url=self.base_url + "/v1",
            timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
            headers={"User-Agent": "llmp-chat"},
        )
        self._routes: dict[str, str | None] = {}  # model -> what the spinner says while waiting

    def close(self) -> None:
        self._http.close()

    def models(self) -> list[str]:
        data = _json_of(self.request("GET", "/models"))
        return [str(m["id"]) for m in data.get("data") or [] if isinstance(m, dict) and "id" in m]

    def check_model(self, name: str) -> None:
        """Raise `ChatError` naming the closest models when the daemon does not know `name`."""
        from urllib.parse import quote

        self.request("GET", "/models/" + quote(name, safe="/"))

    def complete(self, body: dict[str, Any]) -> Reply:
        reply = Reply()
        response = self.request("POST", "/chat/completions", json={**body, "stream": False})
        reply.finished_at = time.monotonic()
        reply.raw = response.content
        reply.note_headers(response.headers)
        data = _json_of(response)
        reply.note_usage(data.get("usage"))
        choices = data.get("choices") or [{}]
        message = choices[0].get("message") or {}
        reply.text = str(message.get("content") or "")
        return reply

    def settle(self, reply: Reply) -> None:
        """Add the daemon's record of a finished reply (cost, tokens) when it still has it.

        Best effort: the footer is worth a short wait, not an error, so any
        failure here leaves the reply as it was.
        """
        if reply.request_id is None or reply.interrupted:
            return
        for record in self._admin_json("/admin/stats").get("recent") or []:
            if isinstance(record, dict) and record.get("request_id") == reply.request_id:
                reply.note_record(record)
                return

    def waiting_for(self, model: str) -> str | None:
        """What a reply from `model` is waited for: its deployments, as the daemon routes the
        name (None when that is not known). Asked once per model."""
        if model not in self._routes:
            from urllib.parse import quote

            route = self._admin_json("/admin/route?model=" + quote(model, safe=""))
            self._routes[model] = waiting_label(route)
        return self._routes[model]

    def stream(self, body: dict[str, Any]) -> ReplyStream:
        return ReplyStream(self, body)

    def request(self, method: str, path: str, *, stream: bool = False, **options: Any) -> Any:
        """The daemon's answer; any failure is a `ChatError`. A stream is left open to read."""
        import httpx

        try:
            response = self._http.send(self._http.build_request(method, path, **options),
                                       stream=stream)
        except httpx.HTTPError as exc:
            raise transport_error(self.base_url, exc) from None
        if response.status_code >= 400:
            content = response.read()
            response.close()
            provider = response.headers.get("x-llmp-provider")
            missing = _missing_key(content)
            if missing is not None:  # the daemon's words name the variable and the command
                raise ChatError(missing, response.status_code)
            raise error_from(response.status_code, content, provider)
        return response

    def usable_models(self) -> list[str]:
        """The served models, less those only providers without their key serve: a default
        choice must not land on a provider that cannot answer."""
        listing = [e for e in self._admin_json("/admin/providers").get("providers") or []
                   if isinstance(e, dict)]
        keyless = [e for e in listing if e.get("key_missing", e.get("key_source") == "missing")]
        served = {m for e in listing if e not in keyless for m in e.get("models") or []}
        unusable = {f"{e.get('name')}/{m}" for e in keyless for m in e.get("models") or []}
        unusable |= {m for e in keyless for m in e.get("models") or [] if m not in served}
        prefixes = tuple(f"{e.get('name')}/" for e in keyless)
        return [name for name in self.models()
                if name not in unusable and not (prefixes and name.startswith(prefixes))]

    def _admin_json(self, path: str) -> dict[str, Any]:
        """An admin endpoint's answer, or {} when there is none: only for optional details."""
        import httpx

        if self._admin is None:
            return {}
        try:
            response = self._http.get(self.base_url + path, headers=self._admin,
                                      timeout=CONNECT_TIMEOUT)
            data = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}


class ReplyStream:
    """`with client.stream(body) as stream: for text in stream: ...`; `stream.reply` holds the rest."""

    def __init__(self, client: ChatClient, body: dict[str, Any]) -> None:
        self._client = client
        self._body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        self._response: Any = None
        self.reply = Reply()

    def __enter__(self) -> ReplyStream:
        try:
            self._response = self._client.request("POST", "/chat/completions", json=self._body,
                                                  stream=True)
        except KeyboardInterrupt:  # stopped before the first token: httpx drops the connection
            self.reply.interrupted = True
            self.reply.finished_at = time.monotonic()
            raise
        self.reply.note_headers(self._response.headers)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._response is not None:
            self._response.close()
        if self.reply.finished_at is None:
            self.reply.finished_at = time.monotonic()
        if kind is KeyboardInterrupt:
            self.reply.interrupted = True

    def __iter__(self) -> Iterator[str]:
        import httpx

        done = False
        try:
            for data in _sse_data(self._response.iter_lines()):
                # Read on past [DONE] to the end of the body: by then the daemon has
                # recorded the request (see `ChatClient.settle`).
                done = done or data == "[DONE]"
                if done:
                    continue
                text = self._absorb(data)
                if text:
                    if self.reply.first_token_at is None:
                        self.reply.first_token_at = time.monotonic()
                    self.reply.text += text
                    yield text
        except httpx.HTTPError as exc:
            if done:
                return
            raise ChatError(f"the reply was cut off ({type(exc).__name__})") from None
        if not done:
            raise ChatError("the reply ended before it was complete")

    def _absorb(self, data: str) -> str:
        try:
            event = read_event(data)
        except AnswerError as error:
            raise ChatError(error.message) from None
        self.reply.note_usage(event.get("usage"))
        return delta_text(event)


def waiting_label(route: dict[str, Any]) -> str | None:
    """`waiting for fake/gpt-4o (then mock/mock-1)`: the deployments a route tries, in order."""
    targets = [f"{t.get('provider')}/{t.get('model')}" for t in route.get("targets") or ()
               if isinstance(t, dict)]
    if not targets:
        return None
    if route.get("strategy", "fallback") != "fallback":  # the daemon picks one per request
        return f"waiting for one of {', '.join(targets)}"
    then = f" (then {', '.join(targets[1:])})" if len(targets) > 1 else ""
    return f"waiting for {targets[0]}{then}"


def _sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The `data` of each server-sent event (multi-line data joined, as the SSE spec says)."""
    parts: list[str] = []
    for line in lines:
        if not line:
            if parts:
                yield "\n".join(parts)
                parts = []
            continue
        if line.startswith("data:"):
            parts.append(line[5:].removeprefix(" "))
    if parts:
        yield "\n".join(parts)


def _json_of(response: Any) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise ChatError("the daemon answered with something that is not JSON") from None
    return data if isinstance(data, dict) else {}


def error_from(status: int, content: bytes, provider: str | None = None) -> ChatError:
    """The daemon's error message; a refused key also says which provider's key to check."""
    message = error_of(status, content).message
    if status in (401, 403) and provider:
        message += f" (check the API key of provider '{provider}')"
    return ChatError(message, status)


def transport_error(base_url: str, exc: BaseException) -> ChatError:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return ChatError(f"the daemon at {base_url} did not answer in time")
    return ChatError(f"cannot reach the daemon at {base_url} ({type(exc).__name__})")


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _missing_key(content: bytes) -> str | None:
    """The daemon's message when a provider has no API key (code `missing_api_key`), else None."""
    import json

    try:
        error = json.loads(content)["error"]
    except (ValueError, KeyError, TypeError):
        return None
    if isinstance(error, dict) and error.get("code") == "missing_api_key":
        return str(error.get("message"))
    return None
